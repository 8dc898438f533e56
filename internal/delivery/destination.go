package delivery

import (
	"cmp"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
)

// Destination is where a message goes: a relay host (Host set) or the mail
// exchangers of a domain (Domain set, Host empty).
//
// Destination is comparable; equal destinations share a connection pool and a
// concurrency limit.
type Destination struct {
	// Host is a relay's host name or IP address (Mail Manager's ServerName).
	Host string
	// Domain is the recipient domain whose MX hosts are used when Host is empty.
	Domain string
	// Port defaults to 25.
	Port int
	// Username and Password, when Username is set, are used for AUTH.
	Username, Password string
	TLS                TLSPolicy
	// MaxConns overrides Config.MaxConnsPerDestination when positive.
	MaxConns int
	// Rate, when positive, paces the destination's mail transactions to at
	// most Rate a second: each starts at least 1/Rate after the one before
	// (Postfix's destination_rate_delay, as a rate). Waiting holds one of
	// the destination's MaxConns slots, never another destination's.
	Rate float64
}

// Relay is the destination of a smart host or Mail Manager relay.
func Relay(host string, port int) Destination { return Destination{Host: host, Port: port} }

// MX is the destination of the mail exchangers of domain.
func MX(domain string) Destination { return Destination{Domain: domain} }

func (d Destination) isRelay() bool { return d.Host != "" }

// String names the destination for logs: "relay:host:port" or "mx:domain".
func (d Destination) String() string {
	if d.isRelay() {
		return "relay:" + net.JoinHostPort(d.Host, strconv.Itoa(d.port()))
	}
	return "mx:" + d.Domain
}

func (d Destination) port() int {
	if d.Port == 0 {
		return 25
	}
	return d.Port
}

// normalize returns the canonical form used as the pool key, or false when
// the destination cannot be used.
func (d Destination) normalize() (Destination, bool) {
	d.Port = d.port()
	if d.Port < 0 || d.Port > 65535 {
		return d, false
	}
	if d.isRelay() {
		d.Host = strings.TrimSuffix(strings.TrimPrefix(d.Host, "["), "]")
		d.Domain = ""
		return d, !strings.ContainsAny(d.Host, " \r\n/")
	}
	d.Domain = strings.TrimSuffix(strings.ToLower(d.Domain), ".")
	return d, d.Domain != "" && !strings.ContainsAny(d.Domain, " \r\n/[]:")
}

// verify reports whether the server certificate must verify.
func (d Destination) verify() bool {
	switch d.TLS.Verify {
	case VerifyAlways:
		return true
	case VerifyNever:
		return false
	default:
		return d.isRelay()
	}
}

// TLSPolicy says how STARTTLS is used. The zero value is opportunistic TLS
// with the destination kind's default verification (see the package doc).
type TLSPolicy struct {
	// Require makes delivery fail temporarily unless TLS is established.
	Require bool
	// Verify chooses certificate verification.
	Verify Verify
	// Implicit starts TLS on connect (SMTPS, RFC 8314, port 465) instead of
	// using STARTTLS.
	Implicit bool
	// AllowPlaintextAuth lets credentials be sent without TLS.
	AllowPlaintextAuth bool
	// Disable never uses STARTTLS, even when offered. It conflicts with
	// Require and Implicit, which win.
	Disable bool
}

// Verify chooses whether the server certificate is verified.
type Verify int

const (
	// VerifyDefault verifies relays and not MX hosts.
	VerifyDefault Verify = iota
	// VerifyAlways verifies against the host name connected to (the relay
	// host or the MX host name) and Config.RootCAs.
	VerifyAlways
	// VerifyNever accepts any certificate (encryption without authentication).
	VerifyNever
)

// Resolver is the part of DNS that delivery needs. *net.Resolver satisfies
// it; so does a resolver pointed at a configured server (TIDINGS_DNS).
//
// Errors that mean "no such name or no such record" must be *net.DNSError
// with IsNotFound set; any other error is taken as temporary.
type Resolver interface {
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIP(ctx context.Context, network, host string) ([]net.IP, error)
}

func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// hostFailure is why a destination host (or all of them) could not be used.
type hostFailure struct {
	reply     Reply
	permanent bool
	// tlsFailed: the TLS handshake failed after STARTTLS; an opportunistic
	// policy may retry the same address in plaintext.
	tlsFailed bool
	// broken: the connection is in no state for QUIT.
	broken bool
}

// mxHosts returns the host names to try for an MX destination, in order
// (RFC 5321 5.1), or a failure; implicit reports that the domain has no MX
// records and is its own mail host.
func (dl *Deliverer) mxHosts(ctx context.Context, domain string) (hosts []string, implicit bool, fail *hostFailure) {
	mxs, err := dl.cfg.Resolver.LookupMX(ctx, domain)
	if err != nil && !isNotFound(err) {
		return nil, false, &hostFailure{reply: localReply("4.4.3", "MX lookup for "+domain+" failed: "+err.Error())}
	}
	// RFC 7505 3: a null MX is a single record with the root as exchange.
	real := mxs[:0:0]
	for _, mx := range mxs {
		if h := strings.TrimSuffix(mx.Host, "."); h != "" {
			real = append(real, &net.MX{Host: h, Pref: mx.Pref})
		}
	}
	if len(mxs) > 0 && len(real) == 0 {
		// RFC 7505 4.1: the domain accepts no mail; return it at once.
		return nil, false, &hostFailure{permanent: true,
			reply: localReply("5.1.10", "domain "+domain+" does not accept mail (null MX)")}
	}
	if len(real) == 0 {
		// RFC 5321 5.1: no MX records, the domain itself is the implicit MX.
		return []string{domain}, true, nil
	}
	// RFC 5321 5.1: lowest preference first; equal preferences in random
	// order to spread the load.
	rand.Shuffle(len(real), func(i, j int) { real[i], real[j] = real[j], real[i] })
	slices.SortStableFunc(real, func(a, b *net.MX) int { return cmp.Compare(a.Pref, b.Pref) })
	hosts = make([]string, len(real))
	for i, mx := range real {
		hosts[i] = mx.Host
	}
	return hosts, false, nil
}

// addrs resolves a host name (or passes an IP literal through) to addresses.
func (dl *Deliverer) addrs(ctx context.Context, host string) ([]net.IP, *hostFailure) {
	if ip := net.ParseIP(host); ip != nil {
		return []net.IP{ip}, nil
	}
	ips, err := dl.cfg.Resolver.LookupIP(ctx, "ip", host)
	switch {
	case err != nil && !isNotFound(err):
		return nil, &hostFailure{reply: localReply("4.4.3", "address lookup for "+host+" failed: "+err.Error())}
	case len(ips) == 0:
		return nil, &hostFailure{permanent: true, reply: localReply("5.1.2", "host or domain name not found: "+host)}
	}
	return ips, nil
}
