package smtpd

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

var (
	errAuthCancelled = errors.New("authentication cancelled")
	errAuthSyntax    = errors.New("malformed authentication response")
)

// cmdAuth runs AUTH PLAIN (RFC 4616) or LOGIN against Endpoint.Auth
// (RFC 4954). The session goes on unless the client failed too often or the
// connection broke.
func (s *session) cmdAuth(arg string) bool {
	ep := &s.srv.ep
	switch {
	case ep.Auth == nil:
		s.fail(502, [3]int{5, 5, 1}, "AUTH not available")
		return s.countError()
	case !s.tlsOn:
		// RFC 4954 6: the mechanisms are offered only inside TLS.
		s.rejectWith(ReasonTLSRequired, Reject{538, [3]int{5, 7, 11}, "Encryption required for requested authentication mechanism"})
		return true
	case !s.esmtp:
		s.fail(503, [3]int{5, 5, 1}, "Send EHLO first")
		return s.countError()
	case s.authed:
		s.fail(503, [3]int{5, 5, 1}, "Already authenticated")
		return s.countError()
	case s.inTx:
		s.fail(503, [3]int{5, 5, 1}, "AUTH not permitted during a mail transaction")
		return s.countError()
	}
	mech, ir, hasIR := strings.Cut(arg, " ")
	var user, pass string
	var err error
	switch strings.ToUpper(mech) {
	case "PLAIN":
		user, pass, err = s.saslPlain(ir, hasIR)
	case "LOGIN":
		user, pass, err = s.saslLogin(ir, hasIR)
	default:
		s.fail(504, [3]int{5, 5, 4}, "Unrecognized authentication mechanism")
		return s.countError()
	}
	switch {
	case errors.Is(err, errAuthCancelled):
		s.fail(501, [3]int{5, 7, 0}, "Authentication cancelled")
		return s.countError()
	case errors.Is(err, errAuthSyntax):
		s.fail(501, [3]int{5, 5, 2}, "Malformed authentication response")
		return s.countError()
	case err != nil:
		return s.readFailed(err)
	}

	ok, err := ep.Auth(s.srv.ctx, user, pass)
	if err != nil {
		s.log.Error("authentication backend failed", "err", err)
		s.reply(454, [3]int{4, 7, 0}, "Temporary authentication failure")
		return true
	}
	if !ok {
		// Slow down guessing: each failure of the client's address waits
		// longer, across its connections, and the session ends after a
		// few.
		s.authFailures++
		recent := ep.AuthThrottle.fail(s.conn.RemoteIP, time.Now())
		delay := min(time.Duration(max(recent, s.authFailures))*ep.AuthFailureDelay, maxAuthFailureDelay)
		s.srv.obs.AuthFailed(&s.conn, user)
		s.log.Warn("authentication failed", "user", user, "failures", s.authFailures, "ip_failures", recent, "delay", delay)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-s.srv.ctx.Done():
			t.Stop()
			return false
		}
		s.reply(535, [3]int{5, 7, 8}, "Authentication Credentials Invalid")
		if s.authFailures >= maxAuthFailures {
			s.reply(421, [3]int{4, 7, 0}, "Too many authentication failures, closing connection")
			s.hangUp()
			return false
		}
		return true
	}
	s.authed = true
	s.conn.AuthUser = user
	s.reply(235, [3]int{2, 7, 0}, "Authentication successful")
	return true
}

// saslPlain reads "authzid NUL authcid NUL passwd" (RFC 4616 2). Acting
// for another identity is not allowed.
func (s *session) saslPlain(ir string, hasIR bool) (user, pass string, err error) {
	resp, err := s.saslResponse(ir, hasIR, "")
	if err != nil {
		return "", "", err
	}
	parts := bytes.Split(resp, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 {
		return "", "", errAuthSyntax
	}
	authz, authc := string(parts[0]), string(parts[1])
	if authz != "" && authz != authc {
		return "", "", errAuthSyntax
	}
	return authc, string(parts[2]), nil
}

// saslLogin runs the LOGIN exchange: "Username:", then "Password:".
func (s *session) saslLogin(ir string, hasIR bool) (user, pass string, err error) {
	u, err := s.saslResponse(ir, hasIR, "VXNlcm5hbWU6")
	if err != nil {
		return "", "", err
	}
	p, err := s.saslResponse("", false, "UGFzc3dvcmQ6")
	if err != nil {
		return "", "", err
	}
	if len(u) == 0 {
		return "", "", errAuthSyntax
	}
	return string(u), string(p), nil
}

// saslResponse returns the client's decoded response: the initial response
// when there is one, otherwise the answer to a 334 challenge.
func (s *session) saslResponse(ir string, hasIR bool, challenge string) ([]byte, error) {
	line := ir
	if !hasIR {
		s.reply(334, noEnh, challenge)
		b, err := s.readLine(readBufSize)
		if err != nil {
			if errors.Is(err, errLineTooLong) || errors.Is(err, errBareNewline) || errors.Is(err, errNUL) {
				return nil, errAuthSyntax
			}
			return nil, err
		}
		line = string(b)
	}
	switch line {
	case "*":
		return nil, errAuthCancelled
	case "=": // RFC 4954 4: an empty response
		return []byte{}, nil
	}
	out, err := base64.StdEncoding.DecodeString(line)
	if err != nil {
		return nil, errAuthSyntax
	}
	return out, nil
}

// Limits of the AUTH failure memory.
const (
	// DefaultAuthThrottleWindow is how long a failure counts against its
	// address.
	DefaultAuthThrottleWindow = 15 * time.Minute
	// maxAuthFailureDelay caps the wait before a "535".
	maxAuthFailureDelay = 30 * time.Second
	// maxThrottled bounds the addresses remembered; past it the oldest
	// are forgotten first.
	maxThrottled = 1 << 16
)

// AuthThrottle counts recent AUTH failures by client IP address (by /64 for
// IPv6). The delay
// before a "535" is AuthFailureDelay times the failures of the address
// within the window (at most 30 s), so a client that reconnects after each
// failure does not start afresh. It is in memory, per process: on a
// cluster each node slows the guesses it sees. Safe for concurrent use.
type AuthThrottle struct {
	window time.Duration

	mu sync.Mutex
	m  map[netip.Addr]*ipFailures
}

type ipFailures struct {
	n    int
	last time.Time
}

// NewAuthThrottle returns a throttle that forgets an address's failures
// window after its last one (DefaultAuthThrottleWindow for 0).
func NewAuthThrottle(window time.Duration) *AuthThrottle {
	if window <= 0 {
		window = DefaultAuthThrottleWindow
	}
	return &AuthThrottle{window: window, m: map[netip.Addr]*ipFailures{}}
}

// fail records a failure of ip at now and returns the failures of ip
// within the window, this one included.
func (t *AuthThrottle) fail(ip netip.Addr, now time.Time) int {
	ip = throttleKey(ip)
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.m[ip]
	if f == nil {
		if len(t.m) >= maxThrottled {
			t.evict(now)
		}
		f = &ipFailures{}
		t.m[ip] = f
	} else if now.Sub(f.last) > t.window {
		f.n = 0
	}
	f.n++
	f.last = now
	return f.n
}

// Failures returns the failures of ip within the window.
func (t *AuthThrottle) Failures(ip netip.Addr, now time.Time) int {
	ip = throttleKey(ip)
	t.mu.Lock()
	defer t.mu.Unlock()
	if f := t.m[ip]; f != nil && now.Sub(f.last) <= t.window {
		return f.n
	}
	return 0
}

// throttleKey is the address failures are counted under: an IPv4
// address, or the /64 of an IPv6 one (one site's subnet: a client there
// can use any of its addresses).
func throttleKey(ip netip.Addr) netip.Addr {
	ip = ip.Unmap()
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return ip
}

// evict forgets the addresses whose failures are past the window and, if
// that frees nothing, the quarter least recently seen.
func (t *AuthThrottle) evict(now time.Time) {
	for ip, f := range t.m {
		if now.Sub(f.last) > t.window {
			delete(t.m, ip)
		}
	}
	if len(t.m) < maxThrottled {
		return
	}
	lasts := make([]time.Time, 0, len(t.m))
	for _, f := range t.m {
		lasts = append(lasts, f.last)
	}
	slices.SortFunc(lasts, func(a, b time.Time) int { return a.Compare(b) })
	cut := lasts[len(lasts)/4]
	for ip, f := range t.m {
		if !f.last.After(cut) {
			delete(t.m, ip)
		}
	}
}
