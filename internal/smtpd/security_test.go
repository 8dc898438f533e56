package smtpd

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// smuggled is what an attacker appends after a fake end of data: a second
// message that a server splitting the stream there would deliver.
const smuggled = "MAIL FROM:<ceo@corp.example>\r\nRCPT TO:<victim@corp.example>\r\nDATA\r\nFrom: ceo@corp.example\r\nSubject: smuggled\r\n\r\npay now\r\n"

// TestSmuggling sends every end-of-data look-alike of the 2023 SMTP
// smuggling attacks and bare CR/LF: no message may be spooled, the reply is
// 550 5.5.2, and afterwards either the session is in step (the next command
// works) or closed.
func TestSmuggling(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		data string // after "Subject: x\r\n\r\nbody"
		// closed: a fake end of data, after which nothing is read; the
		// attacker's real terminator is not awaited.
		closed bool
	}{
		{"LF.LF", "\n.\n" + smuggled + ".\r\n", true},
		{"LF.CRLF", "\n.\r\n" + smuggled + ".\r\n", true},
		{"CRLF.LF", "\r\n.\n" + smuggled + ".\r\n", true},
		{"CR.CR", "\r.\r" + smuggled + ".\r\n", true},
		{"CR.CRLF", "\r.\r\n" + smuggled + ".\r\n", true},
		{"CRLF.CR", "\r\n.\r" + smuggled + ".\r\n", true},
		{"LF.LF only", "\n.\n", true},
		{"CR.CR only", "\r.\r", true},
		{"bare LF", "\nmore\r\n" + smuggled + "\r\n.\r\n", false},
		{"bare CR", "\rmore\r\n" + smuggled + "\r\n.\r\n", false},
		{"CR CRLF", "\r\r\n.\r\n", false},
		{"LF CRLF", "\n\r\n.\r\n", false},
		{"bare LF in headers", "\r\nX-Injected: 1\nX-Other: 2\r\n.\r\n", false},
		{"dot lines inside", "\r\n..\n.\r\nx\r\n.\r\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			c := dial(t, b.addr, 220)
			c.begin()
			c.send("Subject: x\r\n\r\nbody" + tc.data)
			c.expect(550, "5.5.2")
			if tc.closed {
				c.expectClosed()
				require.Contains(t, b.obs.reasons(), ReasonSmuggling)
			} else {
				c.cmd("NOOP", 250)
				c.cmd("RCPT TO:<x@corp.example>", 503) // no transaction left over
				c.cmd("QUIT", 221)
				require.Contains(t, b.obs.reasons(), ReasonBareNewline)
			}
			require.Empty(t, b.spool.all())
		})
	}
}

// TestSmugglingPipelined: the fake end and the smuggled commands in one
// packet after a proper DATA; nothing of it may be executed.
func TestSmugglingPipelined(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := dial(t, b.addr, 220)
	c.ehlo("client.example")
	c.send("MAIL FROM:<a@client.example>\r\nRCPT TO:<b@corp.example>\r\nDATA\r\n")
	c.expect(250)
	c.expect(250)
	c.expect(354)
	c.send("Subject: x\r\n\r\nbody\n.\r\n" + smuggled + ".\r\nQUIT\r\n")
	c.expect(550, "5.5.2")
	c.expectClosed()
	require.Empty(t, b.spool.all())
}

func TestBareNewlineInCommands(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := dial(t, b.addr, 220)
	c.send("EHLO client.example\n")
	c.expect(500, "5.5.2")
	c.send("HELO cl\rient.example\r\n")
	c.expect(500, "5.5.2")
	c.cmd("HELO client.example", 250)
	c.send("MAIL FROM:<a@client.example>\nRCPT TO:<b@corp.example>\r\n")
	c.expect(500, "5.5.2")
	c.expect(503, "Need MAIL") // two lines for us; the first was refused
	c.send("DATA\n")
	c.expect(500, "5.5.2")
	c.cmd("RCPT TO:<b@corp.example>", 503) // MAIL was not executed
}

// TestSTARTTLSInjection: commands pipelined behind STARTTLS in clear text
// must not be executed inside TLS (CVE-2011-0411).
func TestSTARTTLSInjection(t *testing.T) {
	t.Parallel()
	b := setup(t, func(ep *Endpoint) { ep.TLSConfig = serverTLS() })
	c := dial(t, b.addr, 220)
	c.ehlo("client.example")
	c.send("STARTTLS\r\nRSET\r\nMAIL FROM:<injected@evil.example>\r\n")
	c.expect(220)
	tc := tls.Client(c.nc, clientTLS())
	c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	require.NoError(t, tc.Handshake())
	c.nc = tc
	c.r.Reset(tc)

	// The first reply inside TLS must answer HELP (214), not RSET (250).
	c.cmd("HELP", 214)
	// EHLO is forgotten by STARTTLS, and the injected MAIL never ran.
	c.cmd("MAIL FROM:<a@client.example>", 503, "EHLO")
	c.ehlo("client.example")
	c.cmd("RCPT TO:<b@corp.example>", 503, "Need MAIL")
	c.cmd("STARTTLS", 503, "already")
}

func TestTLSRequired(t *testing.T) {
	t.Parallel()
	b := setup(t, func(ep *Endpoint) {
		ep.TLSConfig = serverTLS()
		ep.TLSPolicy = TLSRequired
	})
	c := dial(t, b.addr, 220)
	c.ehlo("client.example")
	c.cmd("NOOP", 250)
	c.cmd("RSET", 250)
	c.cmd("MAIL FROM:<a@client.example>", 530, "5.7.0 Must issue a STARTTLS command first")
	c.cmd("RCPT TO:<b@corp.example>", 530, "5.7.0")
	c.cmd("DATA", 530, "5.7.0")
	c.cmd("VRFY root", 530, "5.7.0")
	c.cmd("HELP", 530, "5.7.0")
	c.startTLS(clientTLS())
	c.ehlo("client.example")
	c.cmd("MAIL FROM:<a@client.example>", 250)
	c.cmd("RCPT TO:<b@corp.example>", 250)
	c.cmd("DATA", 354)
	c.send("x\r\n.\r\n")
	c.expect(250)
	require.Contains(t, b.obs.reasons(), ReasonTLSRequired)
}

func TestFIPS(t *testing.T) {
	t.Parallel()
	b := setup(t, func(ep *Endpoint) {
		ep.TLSConfig = serverTLS()
		ep.TLSPolicy = TLSFIPS
	})
	c := dial(t, b.addr, 220)
	c.ehlo("client.example")
	c.cmd("MAIL FROM:<a@client.example>", 530, "5.7.0")

	// ChaCha20 is not FIPS approved: no handshake.
	c.cmd("STARTTLS", 220)
	cfg := clientTLS()
	cfg.MaxVersion = tls.VersionTLS12
	cfg.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}
	tc := tls.Client(c.nc, cfg)
	c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	require.Error(t, tc.Handshake())

	// TLS 1.2 with AES-GCM is.
	c = dial(t, b.addr, 220)
	c.ehlo("client.example")
	cfg.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
	c.startTLS(cfg)
	c.ehlo("client.example")
	c.cmd("MAIL FROM:<a@client.example>", 250)
	c.cmd("RCPT TO:<b@corp.example>", 250)
	c.cmd("DATA", 354)
	c.send("x\r\n.\r\n")
	c.expect(250)
	env := b.spool.all()[0].env
	require.Equal(t, "TLS1_2", env.Conn.TLS)
	require.Equal(t, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", env.Conn.TLSCipher)
}

func TestAuth(t *testing.T) {
	t.Parallel()
	const delay = 100 * time.Millisecond
	b := setup(t, func(ep *Endpoint) {
		ep.TLSConfig = serverTLS()
		ep.AuthFailureDelay = delay
		ep.Auth = func(_ context.Context, user, pass string) (bool, error) {
			return user == "app" && pass == "s3cret", nil
		}
	})
	plain := func(authz, user, pass string) string {
		return base64.StdEncoding.EncodeToString([]byte(authz + "\x00" + user + "\x00" + pass))
	}
	c := dial(t, b.addr, 220)
	for _, e := range c.ehlo("client.example") {
		require.NotContains(t, e, "AUTH", "AUTH offered in clear text")
	}
	c.cmd("AUTH PLAIN "+plain("", "app", "s3cret"), 538, "5.7.11")
	c.cmd("MAIL FROM:<a@client.example>", 530, "5.7.0 Authentication required")

	c.startTLS(clientTLS())
	c.cmd("AUTH PLAIN "+plain("", "app", "s3cret"), 503) // EHLO first
	require.Contains(t, c.ehlo("client.example"), "AUTH PLAIN LOGIN")
	c.cmd("MAIL FROM:<a@client.example>", 530, "5.7.0")

	start := time.Now()
	c.cmd("AUTH PLAIN "+plain("", "app", "wrong"), 535, "5.7.8")
	require.GreaterOrEqual(t, time.Since(start), delay)
	c.cmd("AUTH PLAIN "+plain("admin", "app", "s3cret"), 501) // no proxy authorization
	c.cmd("AUTH CRAM-MD5", 504)
	c.cmd("AUTH PLAIN", 334)
	c.cmd("*", 501, "cancelled")
	c.cmd("AUTH PLAIN", 334)
	c.cmd("!!notbase64", 501)

	// LOGIN, challenge by challenge.
	c.cmd("AUTH LOGIN", 334, "VXNlcm5hbWU6")
	c.cmd(base64.StdEncoding.EncodeToString([]byte("app")), 334, "UGFzc3dvcmQ6")
	c.cmd(base64.StdEncoding.EncodeToString([]byte("s3cret")), 235, "2.7.0")
	c.cmd("AUTH PLAIN "+plain("", "app", "s3cret"), 503, "Already")
	c.cmd("MAIL FROM:<a@client.example>", 250)
	c.cmd("RCPT TO:<b@corp.example>", 250)
	c.cmd("DATA", 354)
	c.send("x\r\n.\r\n")
	c.expect(250)
	require.Equal(t, "app", b.spool.all()[0].env.Conn.AuthUser)
	require.Equal(t, []string{"app"}, b.obs.authFailed)
}

func TestAuthFailuresEndSession(t *testing.T) {
	t.Parallel()
	b := setup(t, func(ep *Endpoint) {
		ep.TLSConfig = serverTLS()
		ep.AuthFailureDelay = 10 * time.Millisecond
		ep.Auth = func(context.Context, string, string) (bool, error) { return false, nil }
	})
	c := dial(t, b.addr, 220)
	c.startTLS(clientTLS())
	c.ehlo("client.example")
	bad := "AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00guess\x00guess"))
	start := time.Now()
	c.cmd(bad, 535)
	c.cmd(bad, 535)
	c.cmd(bad, 535)
	c.expect(421, "4.7.0")
	c.expectClosed()
	// 1 + 2 + 3 delays: each failure waits longer.
	require.GreaterOrEqual(t, time.Since(start), 60*time.Millisecond)
	require.Len(t, b.obs.authFailed, 3)
}

func TestMTLS(t *testing.T) {
	t.Parallel()
	b := setup(t, func(ep *Endpoint) {
		ep.TLSConfig = serverTLS()
		ep.RequireClientCert = pki().caPool
	})
	send := func(cert *tls.Certificate, code int, want string) {
		c := dial(t, b.addr, 220)
		c.ehlo("client.example")
		c.cmd("MAIL FROM:<a@client.example>", 530, "STARTTLS") // MTLS needs TLS
		cfg := clientTLS()
		if cert != nil {
			// Send it even when it is not from a CA the server named.
			cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
		}
		c.startTLS(cfg)
		c.ehlo("client.example")
		c.cmd("MAIL FROM:<a@client.example>", code, want)
	}
	send(nil, 550, "5.7.1 A client certificate is required")
	send(&pki().strangeClient, 550, "5.7.1 Client certificate not trusted")
	server := pki().server // a server-auth certificate from the right CA
	send(&server, 550, "5.7.1")
	require.Contains(t, b.obs.reasons(), ReasonClientCert)

	client := pki().client
	c := dial(t, b.addr, 220)
	cfg := clientTLS()
	cfg.Certificates = []tls.Certificate{client}
	c.startTLS(cfg)
	c.ehlo("client.example")
	c.cmd("MAIL FROM:<a@client.example>", 250)
	c.cmd("RCPT TO:<b@corp.example>", 250)
	c.cmd("DATA", 354)
	c.send("x\r\n.\r\n")
	c.expect(250)
	env := b.spool.all()[0].env
	require.NotNil(t, env.Conn.ClientCert)
	require.Equal(t, "client.example", env.Conn.ClientCert.Subject.CommonName)
	require.True(t, strings.HasPrefix(env.Conn.TLS, "TLS1_"))
}
