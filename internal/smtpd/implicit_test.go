package smtpd

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// submissionEndpoint is a submission server: TLS required, AUTH, and the
// SES form of the "250".
func submissionEndpoint(implicit bool, delay time.Duration) func(*Endpoint) {
	return func(ep *Endpoint) {
		ep.TLSConfig = serverTLS()
		ep.TLSPolicy = TLSRequired
		ep.ImplicitTLS = implicit
		ep.AuthFailureDelay = delay
		ep.Auth = func(_ context.Context, user, pass string) (bool, error) {
			return user == "AKIAUSER" && pass == "good", nil
		}
		ep.AcceptedReply = func(id string) string { return "Ok " + id }
	}
}

func plainAuth(user, pass string) string {
	return "AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass))
}

// dialTLS connects with TLS from the first byte and reads the greeting.
func dialTLS(t *testing.T, addr string, greet int) *rawClient {
	t.Helper()
	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, clientTLS())
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	c := &rawClient{t: t, nc: nc, r: bufio.NewReader(nc)}
	c.expect(greet)
	return c
}

func TestImplicitTLS(t *testing.T) {
	t.Parallel()
	b := setup(t, submissionEndpoint(true, time.Millisecond))
	c := dialTLS(t, b.addr, 220)
	ext := c.ehlo("client.example")
	require.NotContains(t, ext, "STARTTLS", "STARTTLS offered inside TLS")
	require.Contains(t, ext, "AUTH PLAIN LOGIN")
	c.cmd("STARTTLS", 503, "TLS already active")
	c.cmd("MAIL FROM:<a@client.example>", 530, "5.7.0 Authentication required")
	c.cmd(plainAuth("AKIAUSER", "good"), 235)
	c.cmd("MAIL FROM:<a@client.example>", 250)
	c.cmd("RCPT TO:<b@corp.example>", 250)
	c.cmd("DATA", 354)
	c.send("Subject: x\r\n\r\nx\r\n.\r\n")
	c.expect(250, "2.0.0 Ok Q1")
	env := b.spool.all()[0].env
	require.Equal(t, "AKIAUSER", env.Conn.AuthUser)
	require.Contains(t, env.Conn.TLS, "TLS1_")
	require.Contains(t, string(b.spool.all()[0].body), "with ESMTPSA")

	// A client speaking clear text gets no greeting: the server waits for
	// a TLS ClientHello, and the handshake fails on the SMTP command.
	nc, err := net.Dial("tcp", b.addr)
	require.NoError(t, err)
	defer nc.Close()
	_, err = io.WriteString(nc, "EHLO client.example\r\n")
	require.NoError(t, err)
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, _ := io.ReadAll(nc)
	require.NotContains(t, string(got), "220 ", "an SMTP greeting in clear text on an implicit TLS port")
	require.Contains(t, b.obs.reasons(), ReasonTLS)
}

func TestImplicitTLSNeedsCertificate(t *testing.T) {
	t.Parallel()
	_, err := New(Endpoint{Spool: newMemSpool(), ImplicitTLS: true})
	require.ErrorContains(t, err, "ImplicitTLS needs a TLSConfig")
}

// TestAuthBeforeSTARTTLS: where TLS is required AUTH is neither offered nor
// accepted in clear text; the answer is that of every other command.
func TestAuthBeforeSTARTTLS(t *testing.T) {
	t.Parallel()
	b := setup(t, submissionEndpoint(false, time.Millisecond))
	c := dial(t, b.addr, 220)
	ext := c.ehlo("client.example")
	require.Contains(t, ext, "STARTTLS")
	for _, e := range ext {
		require.NotContains(t, e, "AUTH", "AUTH offered in clear text")
	}
	c.cmd(plainAuth("AKIAUSER", "good"), 530, "5.7.0 Must issue a STARTTLS command first")
	c.cmd("AUTH LOGIN", 530, "5.7.0")
	c.cmd("MAIL FROM:<a@client.example>", 530, "5.7.0")
	c.startTLS(clientTLS())
	require.Contains(t, c.ehlo("client.example"), "AUTH PLAIN LOGIN")
	c.cmd(plainAuth("AKIAUSER", "good"), 235)
	require.Empty(t, b.obs.authFailed, "a refused AUTH in clear text is not a failed attempt")
}

// TestAuthDelayGrowsAcrossConnections: a client that reconnects after a
// failure waits longer at its next one.
func TestAuthDelayGrowsAcrossConnections(t *testing.T) {
	t.Parallel()
	const delay = 40 * time.Millisecond
	b := setup(t, submissionEndpoint(true, delay))
	for i := 1; i <= 3; i++ {
		c := dialTLS(t, b.addr, 220)
		c.ehlo("client.example")
		start := time.Now()
		c.cmd(plainAuth("AKIAUSER", "bad"), 535, "5.7.8 Authentication Credentials Invalid")
		// The i-th failure of 127.0.0.1 waits i delays, though it is the
		// first of its session.
		require.GreaterOrEqual(t, time.Since(start), time.Duration(i)*delay, "failure %d", i)
		c.cmd("QUIT", 221)
	}
	require.Len(t, b.obs.authFailed, 3)
	require.Equal(t, 3, b.srv.ep.AuthThrottle.Failures(netip.MustParseAddr("127.0.0.1"), time.Now()))
}

func TestAuthThrottleWindow(t *testing.T) {
	t.Parallel()
	th := NewAuthThrottle(time.Minute)
	a, other := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	require.Equal(t, 1, th.fail(a, t0))
	require.Equal(t, 2, th.fail(a, t0.Add(30*time.Second)))
	require.Equal(t, 1, th.fail(other, t0.Add(30*time.Second)))
	// The window runs from the last failure.
	require.Equal(t, 3, th.fail(a, t0.Add(89*time.Second)))
	require.Equal(t, 3, th.Failures(a, t0.Add(149*time.Second)))
	require.Equal(t, 0, th.Failures(a, t0.Add(150*time.Second)))
	require.Equal(t, 1, th.fail(a, t0.Add(150*time.Second)))
	// IPv6 by /64: the other addresses of the subnet count together.
	require.Equal(t, 2, th.fail(netip.MustParseAddr("2001:db8::ffff:1"), t0.Add(31*time.Second)))
	require.Equal(t, 1, th.fail(netip.MustParseAddr("2001:db8:0:1::1"), t0.Add(31*time.Second)))
	require.Equal(t, 1, th.Failures(netip.MustParseAddr("::ffff:192.0.2.1"), t0.Add(151*time.Second)), "IPv4-mapped is IPv4")

	// The memory is bounded: the oldest addresses go first.
	th = NewAuthThrottle(time.Hour)
	for i := range maxThrottled + 10 {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		th.fail(ip, t0.Add(time.Duration(i)*time.Millisecond))
	}
	require.LessOrEqual(t, len(th.m), maxThrottled)
	require.Equal(t, 0, th.Failures(netip.AddrFrom4([4]byte{10, 0, 0, 0}), t0.Add(time.Minute)))
	last := maxThrottled + 9
	require.Equal(t, 1, th.Failures(netip.AddrFrom4([4]byte{10, byte(last >> 16), byte(last >> 8), byte(last)}), t0.Add(time.Minute)))
}
