package mailauth

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Resolver is the DNS seam of the mail code: SPF, DKIM and DMARC here, MX
// lookups in delivery. *net.Resolver satisfies it, and so does *DNSResolver.
//
// Implementations report failures as *net.DNSError, as the standard library
// does, because the SPF, DKIM and DMARC libraries decide between "no record"
// and "try later" from it: IsNotFound for NXDOMAIN and for a name without
// records of the asked type, IsTemporary or IsTimeout for SERVFAIL, REFUSED
// and timeouts.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	// LookupMX returns the MX records sorted by preference; hosts are
	// absolute names with a trailing dot, as net.Resolver returns them.
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	// LookupIP looks up host's addresses; network is "ip", "ip4" or "ip6".
	LookupIP(ctx context.Context, network, host string) ([]net.IP, error)
	// LookupAddr returns the PTR names of an address (absolute names).
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// ResolverConfig configures NewResolver.
type ResolverConfig struct {
	// Server is the host:port of a recursive DNS server (TIDINGS_DNS). When
	// empty, the system resolver (net.DefaultResolver) is used.
	Server string
	// Timeout bounds one query attempt; default 3s.
	Timeout time.Duration
	// Attempts is how many times a UDP query is sent before giving up on a
	// timeout; default 2.
	Attempts int
	// CacheSize is the number of answers kept; 0 means 1024, negative
	// disables the cache.
	CacheSize int
	// MaxTTL caps how long an answer is cached; default 5 minutes.
	MaxTTL time.Duration
}

// NewResolver returns a Resolver sending queries to cfg.Server, or the system
// resolver when no server is configured.
func NewResolver(cfg ResolverConfig) Resolver {
	if cfg.Server == "" {
		return net.DefaultResolver
	}
	return NewDNSResolver(cfg)
}

// DNSResolver sends queries to one recursive server over UDP and repeats them
// over TCP when the answer is truncated (RFC 1035 4.2.2, RFC 7766 5). It is
// safe for concurrent use.
type DNSResolver struct {
	server   string
	timeout  time.Duration
	attempts int
	maxTTL   time.Duration
	cache    *answerCache
}

var _ Resolver = (*DNSResolver)(nil)

// NewDNSResolver returns a resolver for cfg.Server, which must be set.
func NewDNSResolver(cfg ResolverConfig) *DNSResolver {
	r := &DNSResolver{
		server:   cfg.Server,
		timeout:  cfg.Timeout,
		attempts: cfg.Attempts,
		maxTTL:   cfg.MaxTTL,
	}
	if r.timeout <= 0 {
		r.timeout = 3 * time.Second
	}
	if r.attempts <= 0 {
		r.attempts = 2
	}
	if r.maxTTL <= 0 {
		r.maxTTL = 5 * time.Minute
	}
	switch {
	case cfg.CacheSize == 0:
		r.cache = newAnswerCache(1024)
	case cfg.CacheSize > 0:
		r.cache = newAnswerCache(cfg.CacheSize)
	}
	return r
}

// udpSize is the EDNS0 payload size advertised, the DNS flag day 2020 value
// that avoids IP fragmentation.
const udpSize = 1232

// query returns the records of type qtype in the answer to name. An empty
// result always comes with an error.
func (r *DNSResolver) query(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	fqdn := dns.Fqdn(strings.ToLower(name))
	if _, ok := dns.IsDomainName(fqdn); !ok || len(fqdn) > 254 {
		return nil, &net.DNSError{Err: "invalid domain name", Name: name, IsNotFound: true}
	}
	key := cacheKey{qtype: qtype, name: fqdn}
	msg, ok := r.cache.get(key)
	if !ok {
		var err error
		msg, err = r.exchange(ctx, fqdn, qtype)
		if err != nil {
			return nil, err
		}
		r.cache.put(key, msg, r.ttl(msg))
	}

	switch msg.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return nil, &net.DNSError{Err: "no such host", Name: name, Server: r.server, IsNotFound: true}
	case dns.RcodeServerFailure, dns.RcodeRefused:
		return nil, &net.DNSError{Err: "server misbehaving: " + dns.RcodeToString[msg.Rcode], Name: name, Server: r.server, IsTemporary: true}
	default:
		return nil, &net.DNSError{Err: "server misbehaving: " + dns.RcodeToString[msg.Rcode], Name: name, Server: r.server}
	}
	var rrs []dns.RR
	for _, rr := range msg.Answer {
		// The answer may hold a CNAME chain before the records asked for;
		// the recursive server has followed it for us.
		if rr.Header().Rrtype == qtype && rr.Header().Class == dns.ClassINET {
			rrs = append(rrs, rr)
		}
	}
	if len(rrs) == 0 {
		// NODATA reads as "not found", as in the standard library.
		return nil, &net.DNSError{Err: "no such host", Name: name, Server: r.server, IsNotFound: true}
	}
	return rrs, nil
}

// exchange sends one question, over UDP first, then over TCP if the answer
// came back truncated.
func (r *DNSResolver) exchange(ctx context.Context, fqdn string, qtype uint16) (*dns.Msg, error) {
	var lastErr error
	for attempt := 0; attempt < r.attempts; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, dnsErr(fqdn, r.server, err)
		}
		m := new(dns.Msg)
		m.SetQuestion(fqdn, qtype)
		m.RecursionDesired = true
		m.SetEdns0(udpSize, false)
		resp, err := r.exchangeOnce(ctx, m, "udp")
		if err == nil && resp.Truncated {
			resp, err = r.exchangeOnce(ctx, m, "tcp")
		}
		if err == nil {
			return resp, nil
		}
		lastErr = err
		var nerr net.Error
		if !errors.As(err, &nerr) || !nerr.Timeout() {
			break // only timeouts are worth repeating
		}
	}
	return nil, dnsErr(fqdn, r.server, lastErr)
}

func (r *DNSResolver) exchangeOnce(ctx context.Context, m *dns.Msg, network string) (*dns.Msg, error) {
	c := &dns.Client{Net: network, Timeout: r.timeout, UDPSize: udpSize}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	conn, err := c.DialContext(ctx, r.server)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// The client only honours deadlines; a cancelled context closes the
	// connection so the read returns at once.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	resp, _, err := c.ExchangeWithConnContext(ctx, m, conn)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	// An answer must be to the question asked (RFC 5452 9.1), beyond the
	// matching ID the client already checks.
	if len(resp.Question) != 1 || !strings.EqualFold(resp.Question[0].Name, m.Question[0].Name) ||
		resp.Question[0].Qtype != m.Question[0].Qtype {
		return nil, errors.New("answer does not match the question")
	}
	return resp, nil
}

// dnsErr reports a failed exchange. A server that cannot be reached, is
// slow or talks nonsense now may do better later: every such failure is
// temporary (SPF temperror, RFC 7208 2.6.6; DKIM TEMPFAIL, RFC 6376 6.1.2).
func dnsErr(name, server string, err error) *net.DNSError {
	var nerr net.Error
	timeout := errors.Is(err, context.DeadlineExceeded) || errors.As(err, &nerr) && nerr.Timeout()
	return &net.DNSError{Err: err.Error(), Name: name, Server: server, IsTimeout: timeout, IsTemporary: true}
}

// ttl is how long msg may be cached: the smallest TTL of its answers, or for
// a negative answer the SOA minimum (RFC 2308 5); 0 means not at all.
func (r *DNSResolver) ttl(msg *dns.Msg) time.Duration {
	var ttl uint32
	switch {
	case msg.Rcode == dns.RcodeSuccess && len(msg.Answer) > 0:
		ttl = msg.Answer[0].Header().Ttl
		for _, rr := range msg.Answer[1:] {
			ttl = min(ttl, rr.Header().Ttl)
		}
	case msg.Rcode == dns.RcodeSuccess || msg.Rcode == dns.RcodeNameError:
		for _, rr := range msg.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				ttl = min(soa.Hdr.Ttl, soa.Minttl)
			}
		}
	}
	return min(time.Duration(ttl)*time.Second, r.maxTTL)
}

// LookupTXT returns the TXT records of name, the strings of each record
// joined as net.Resolver does.
func (r *DNSResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	rrs, err := r.query(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, strings.Join(rr.(*dns.TXT).Txt, ""))
	}
	return out, nil
}

// LookupMX returns the MX records of name sorted by preference.
func (r *DNSResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	rrs, err := r.query(ctx, name, dns.TypeMX)
	if err != nil {
		return nil, err
	}
	out := make([]*net.MX, 0, len(rrs))
	for _, rr := range rrs {
		mx := rr.(*dns.MX)
		out = append(out, &net.MX{Host: mx.Mx, Pref: mx.Preference})
	}
	slices.SortStableFunc(out, func(a, b *net.MX) int { return int(a.Pref) - int(b.Pref) })
	return out, nil
}

// LookupIP returns the addresses of host: A records for "ip4", AAAA for
// "ip6", both for "ip". An IP literal is returned as is.
func (r *DNSResolver) LookupIP(ctx context.Context, network, host string) ([]net.IP, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []net.IP{ip.AsSlice()}, nil
	}
	var types []uint16
	switch network {
	case "ip":
		types = []uint16{dns.TypeA, dns.TypeAAAA}
	case "ip4":
		types = []uint16{dns.TypeA}
	case "ip6":
		types = []uint16{dns.TypeAAAA}
	default:
		return nil, net.UnknownNetworkError(network)
	}
	results := make([][]dns.RR, len(types))
	errs := make([]error, len(types))
	var wg sync.WaitGroup
	for i, t := range types {
		wg.Go(func() { results[i], errs[i] = r.query(ctx, host, t) })
	}
	wg.Wait()
	var ips []net.IP
	for _, rrs := range results {
		for _, rr := range rrs {
			switch rr := rr.(type) {
			case *dns.A:
				ips = append(ips, rr.A)
			case *dns.AAAA:
				ips = append(ips, rr.AAAA)
			}
		}
	}
	if len(ips) > 0 {
		return ips, nil
	}
	// Nothing found: a temporary failure of either query wins over "not
	// found", so that a flaky server is not taken for a missing host.
	for _, err := range errs {
		var de *net.DNSError
		if errors.As(err, &de) && de.Temporary() {
			return nil, de
		}
	}
	return nil, errs[0]
}

// LookupIPAddr is LookupIP("ip") in the shape the SPF library asks for.
func (r *DNSResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	return lookupIPAddr(ctx, r, host)
}

// LookupAddr returns the PTR names of addr.
func (r *DNSResolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	arpa, err := dns.ReverseAddr(addr)
	if err != nil {
		return nil, &net.DNSError{Err: "unrecognized address", Name: addr}
	}
	rrs, err := r.query(ctx, arpa, dns.TypePTR)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, rr.(*dns.PTR).Ptr)
	}
	return out, nil
}

func lookupIPAddr(ctx context.Context, r Resolver, host string) ([]net.IPAddr, error) {
	ips, err := r.LookupIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	out := make([]net.IPAddr, len(ips))
	for i, ip := range ips {
		out[i] = net.IPAddr{IP: ip}
	}
	return out, nil
}

// spfResolver adapts a Resolver to the interface of blitiri.com.ar/go/spf.
type spfResolver struct{ Resolver }

func (s spfResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	return lookupIPAddr(ctx, s.Resolver, host)
}

type cacheKey struct {
	qtype uint16
	name  string
}

type cacheEntry struct {
	msg     *dns.Msg
	expires time.Time
}

// answerCache keeps whole answers, positive and negative, until their TTL
// runs out. When full, an arbitrary entry makes room: good enough for a cache
// whose job is to spare the same few lookups for a burst of messages.
type answerCache struct {
	mu      sync.Mutex
	size    int
	entries map[cacheKey]cacheEntry
}

func newAnswerCache(size int) *answerCache {
	return &answerCache{size: size, entries: make(map[cacheKey]cacheEntry)}
}

func (c *answerCache) get(k cacheKey) (*dns.Msg, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		return nil, false
	}
	if time.Now().After(e.expires) {
		delete(c.entries, k)
		return nil, false
	}
	return e.msg, true
}

func (c *answerCache) put(k cacheKey, msg *dns.Msg, ttl time.Duration) {
	if c == nil || ttl <= 0 {
		return
	}
	switch msg.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
	default:
		return // failures are not cached
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.size {
		now := time.Now()
		evicted := false
		for key, e := range c.entries {
			if now.After(e.expires) {
				delete(c.entries, key)
				evicted = true
			}
		}
		if !evicted {
			for key := range c.entries {
				delete(c.entries, key)
				break
			}
		}
	}
	c.entries[k] = cacheEntry{msg: msg, expires: time.Now().Add(ttl)}
}
