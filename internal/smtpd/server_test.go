package smtpd

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/message"
)

func TestEHLOAdvertisesExtensions(t *testing.T) {
	t.Parallel()
	b := setup(t, func(ep *Endpoint) {
		ep.MaxMessageBytes = 12345
		ep.TLSConfig = serverTLS()
	})
	c := dial(t, b.addr, 220, "mx.test.example ESMTP")
	ext := c.ehlo("client.example")
	require.Equal(t, []string{"PIPELINING", "SIZE 12345", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "STARTTLS"}, ext)

	// Inside TLS: no STARTTLS any more; no CHUNKING ever.
	c.startTLS(clientTLS())
	ext = c.ehlo("client.example")
	require.Equal(t, []string{"PIPELINING", "SIZE 12345", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES"}, ext)

	// Without a certificate there is no STARTTLS.
	b2 := setup(t, nil)
	c2 := dial(t, b2.addr, 220)
	require.NotContains(t, c2.ehlo("client.example"), "STARTTLS")
	c2.cmd("STARTTLS", 502, "5.5.1")
	c2.cmd("HELO client.example", 250)
	c2.cmd("QUIT", 221)
	c2.expectClosed()
}

// TestRealClient sends through go-smtp's client, with STARTTLS, and checks
// what reaches the spool: the Received header, CRLF line ends, the dot
// stuffing undone, the connection's facts.
func TestRealClient(t *testing.T) {
	t.Parallel()
	b := setup(t, func(ep *Endpoint) { ep.TLSConfig = serverTLS() })

	cl, err := smtp.DialStartTLS(b.addr, clientTLS())
	require.NoError(t, err)
	defer cl.Close()
	require.NoError(t, cl.Hello("client.example"))
	body := "From: a@client.example\r\nSubject: hi\r\n\r\nline one\r\n.leading dot\r\n..two dots\r\n.\r\nend\r\n"
	require.NoError(t, cl.SendMail("sender@client.example", []string{"rcpt@corp.example", "other@corp.example"}, strings.NewReader(body)))
	require.NoError(t, cl.Quit())

	msgs := b.spool.all()
	require.Len(t, msgs, 1)
	m := msgs[0]
	hdr, rest, ok := strings.Cut(string(m.body), "\r\nFrom: ")
	require.True(t, ok, "body %q", m.body)
	require.Equal(t, body, "From: "+rest)
	require.True(t, strings.HasPrefix(hdr, "Received: from client.example ([127.0.0.1])\r\n\tby mx.test.example (Tidings) with ESMTPS\r\n\t(TLS1_3 TLS_"), hdr)
	require.NotContains(t, hdr, "for <", "two recipients: none named")

	env := m.env
	require.Equal(t, "acct", env.AccountID)
	require.Equal(t, "inp-1", env.IngressPointID)
	require.Equal(t, "sender@client.example", env.MailFrom)
	require.Equal(t, []string{"rcpt@corp.example", "other@corp.example"}, env.Recipients)
	require.Equal(t, "Q1", env.QueueID)
	require.Equal(t, int64(len(m.body)), env.Size)
	require.Equal(t, "127.0.0.1", env.Conn.RemoteIP.String())
	require.NotZero(t, env.Conn.RemotePort)
	require.Equal(t, "client.example", env.Conn.Helo)
	require.Equal(t, "TLS1_3", env.Conn.TLS)
	require.True(t, strings.HasPrefix(env.Conn.TLSCipher, "TLS_"), env.Conn.TLSCipher)
	require.Len(t, b.obs.accepted, 1)
}

func TestPipelining(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := dial(t, b.addr, 220)
	c.ehlo("client.example")
	c.send("MAIL FROM:<a@client.example>\r\nRCPT TO:<b@corp.example>\r\nRCPT TO:<c@corp.example>\r\nDATA\r\n")
	c.expect(250, "2.1.0")
	c.expect(250, "2.1.5")
	c.expect(250, "2.1.5")
	c.expect(354)
	c.send("Subject: x\r\n\r\nbody\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<d@corp.example>\r\nDATA\r\n")
	c.expect(250, "2.0.0 Ok: queued as Q1")
	c.expect(250)
	c.expect(250)
	c.expect(354)
	c.send(".\r\nQUIT\r\n")
	c.expect(250, "queued as Q2")
	c.expect(221)
	c.expectClosed()
	msgs := b.spool.all()
	require.Len(t, msgs, 2)
	require.Equal(t, "", msgs[1].env.MailFrom)
	require.True(t, strings.HasSuffix(string(msgs[0].body), "\r\n\r\nSubject: x\r\n\r\nbody\r\n") || strings.HasSuffix(string(msgs[0].body), "Subject: x\r\n\r\nbody\r\n"))
	require.Contains(t, string(msgs[1].body), "for <d@corp.example>;")
}

func TestClosedIngressPoint(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	open := dial(t, b.addr, 220)

	b.srv.SetClosed(true)
	require.True(t, b.srv.Closed())
	c := dial(t, b.addr, 421, "4.3.2", "Service not available")
	c.expectClosed()
	open.cmd("NOOP", 250) // sessions already open go on

	b.srv.SetClosed(false)
	dial(t, b.addr, 220).cmd("QUIT", 221)
	require.Contains(t, b.obs.reasons(), ReasonClosed)
}

func TestMaxConnections(t *testing.T) {
	t.Parallel()
	b := setup(t, func(ep *Endpoint) { ep.MaxConnections = 2 })
	c1 := dial(t, b.addr, 220)
	dial(t, b.addr, 220)
	over := dial(t, b.addr, 421, "4.7.0")
	over.expectClosed()
	require.Contains(t, b.obs.reasons(), ReasonConnectionLimit)

	// When one leaves, a new one gets in (once the server has seen it go).
	c1.cmd("QUIT", 221)
	c1.expectClosed()
	deadline := time.Now().Add(10 * time.Second)
	for {
		nc, err := net.Dial("tcp", b.addr)
		require.NoError(t, err)
		buf := make([]byte, 3)
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = nc.Read(buf)
		nc.Close()
		require.NoError(t, err)
		if string(buf) == "220" {
			break
		}
		require.Equal(t, "421", string(buf))
		require.True(t, time.Now().Before(deadline), "no slot freed")
		runtime.Gosched()
	}
}

func TestMaxRecipients(t *testing.T) {
	t.Parallel()
	b := setup(t, func(ep *Endpoint) { ep.MaxRecipients = 2 })
	c := dial(t, b.addr, 220)
	c.ehlo("client.example")
	c.cmd("MAIL FROM:<a@client.example>", 250)
	c.cmd("RCPT TO:<b@corp.example>", 250)
	c.cmd("RCPT TO:<b@corp.example>", 250, "duplicate")
	c.cmd("RCPT TO:<c@corp.example>", 250)
	c.cmd("RCPT TO:<d@corp.example>", 452, "4.5.3")
	c.cmd("DATA", 354)
	c.send("x\r\n.\r\n")
	c.expect(250)
	require.Equal(t, []string{"b@corp.example", "c@corp.example"}, b.spool.all()[0].env.Recipients)
}

func TestCommandSequence(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := dial(t, b.addr, 220)
	c.cmd("MAIL FROM:<a@client.example>", 503, "5.5.1")
	c.cmd("EHLO bad host", 501)
	c.cmd("EHLO bad\x01host", 501)
	c.ehlo("client.example")
	c.cmd("RCPT TO:<b@corp.example>", 503, "5.5.1")
	c.cmd("DATA", 503, "5.5.1")
	c.cmd("MAIL FROM:<a@client.example>", 250)
	c.cmd("MAIL FROM:<a@client.example>", 503, "Nested")
	c.cmd("DATA", 554, "5.5.1")
	c.cmd("RSET", 250)
	c.cmd("RCPT TO:<b@corp.example>", 503)
	c.cmd("VRFY root", 252)
	c.cmd("EXPN staff", 502)
	c.cmd("HELP", 214)
	c.cmd("FOO", 500, "5.5.2")
	c.cmd("STARTTLSX", 500, "5.5.2") // not STARTTLS
	c.cmd("MAIL FROM:<a@client.example> FOO=BAR", 555, "5.5.4")
	c.cmd("MAIL FROM:<a@client.example> BODY=BINARYMIME", 555)
	c.cmd("MAIL FROM:<a@client.example> SIZE=x", 501)
	c.cmd("MAIL FROM:<a@client.example> SIZE=1 SIZE=1", 501)
	c.cmd("MAIL FROM:<a@client.example> BODY=8BITMIME AUTH=<> SIZE=10", 250)
	c.cmd("RCPT TO:<b@corp.example> NOTIFY=NEVER", 555)
	c.cmd("RCPT TO:<Postmaster>", 250)
	c.cmd("DATA x", 501)
	c.cmd("QUIT", 221)
	c.expectClosed()
}

func TestTooManyErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := dial(t, b.addr, 220)
	for range maxErrors {
		c.cmd("FOO", 500)
	}
	c.cmd("FOO", 500)
	c.expect(421, "4.7.0")
	c.expectClosed()
}

func TestBDATAndHTTPHangUp(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := dial(t, b.addr, 220)
	c.ehlo("client.example")
	c.cmd("MAIL FROM:<a@client.example>", 250)
	c.cmd("RCPT TO:<b@corp.example>", 250)
	c.send("BDAT 20 LAST\r\nMAIL FROM:<x@y.example>")
	c.expect(554, "5.5.1")
	c.expectClosed()

	h := dial(t, b.addr, 220)
	h.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	h.expect(421)
	h.expectClosed()
	require.Empty(t, b.spool.all())
}

func TestHELOHasNoExtensions(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := dial(t, b.addr, 220)
	c.cmd("HELO client.example", 250, "mx.test.example")
	c.cmd("MAIL FROM:<a@client.example> SIZE=10", 555)
	c.cmd("MAIL FROM:<a@client.example>", 250)
	c.cmd("RCPT TO:<b@corp.example>", 250)
	c.cmd("DATA", 354)
	c.send("x\r\n.\r\n")
	c.expect(250)
	require.Contains(t, string(b.spool.all()[0].body), "with SMTP\r\n")
}

func TestSMTPUTF8(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := dial(t, b.addr, 220)
	c.ehlo("client.example")
	c.cmd("MAIL FROM:<jöran@bücher.example>", 553, "5.6.7")
	c.cmd("MAIL FROM:<a@client.example>", 250)
	c.cmd("RCPT TO:<δοκιμή@παράδειγμα.example>", 553, "5.6.7")
	c.cmd("RSET", 250)
	c.cmd("MAIL FROM:<jöran@bücher.example> SMTPUTF8", 250)
	c.cmd("RCPT TO:<δοκιμή@παράδειγμα.example>", 250)
	c.cmd("RCPT TO:<\"ü x\"@b.example>", 250)
	c.cmd("RCPT TO:<a@b\xff.example>", 501, "5.1.3") // not UTF-8
	c.cmd("DATA", 354)
	c.send("Subject: ü\r\n\r\n.\r\n")
	c.expect(250)
	m := b.spool.all()[0]
	require.Equal(t, "jöran@bücher.example", m.env.MailFrom)
	require.Equal(t, []string{"δοκιμή@παράδειγμα.example", `"ü x"@b.example`}, m.env.Recipients)
	require.Contains(t, string(m.body), "with UTF8SMTP;")
}

// TestAddressesReachPolicyLiterally: "%", "!", quoted "@" and source routes
// are not interpreted; the policy sees the literal mailbox.
func TestAddressesReachPolicyLiterally(t *testing.T) {
	t.Parallel()
	seen := make(chan string, 10)
	b := setup(t, func(ep *Endpoint) {
		ep.Policy = policyFunc{rcpt: func(_ *message.Conn, rcpt string) *Reject {
			seen <- rcpt
			if !strings.HasSuffix(rcpt, "@corp.example") {
				return deny
			}
			return nil
		}}
	})
	c := dial(t, b.addr, 220)
	c.ehlo("client.example")
	c.cmd("MAIL FROM:<a@client.example>", 250)
	for _, tc := range []struct{ path, want string }{
		{"<user%outside.example@corp.example>", "user%outside.example@corp.example"},
		{"<outside.example!user@corp.example>", "outside.example!user@corp.example"},
		{`<"user@outside.example"@corp.example>`, `"user@outside.example"@corp.example`},
		{"<@corp.example,@relay.example:user@outside.example>", "user@outside.example"},
		{"<@corp.example:user@corp.example>", "user@corp.example"},
		{`<"plain"@corp.example>`, "plain@corp.example"},
		{"<user@corp.example.>", ""},
		{"user@corp.example", ""},
		{"<user@outside.example>@corp.example", ""},
	} {
		code := 250
		switch {
		case tc.want == "":
			code = 501
		case !strings.HasSuffix(tc.want, "@corp.example"):
			code = 550
		}
		c.cmd("RCPT TO: "+tc.path, code)
		if tc.want != "" {
			require.Equal(t, tc.want, <-seen)
		}
	}
	// Control characters never get that far.
	c.cmd("RCPT TO:<a\x00b@corp.example>", 500)
	c.send("RCPT TO:<a@corp.example\r>\r\n")
	c.expect(500, "5.5.2")
	c.send("RCPT TO:<a@corp.example>\n")
	c.expect(500, "5.5.2")
	c.cmd("NOOP", 250)
	require.Empty(t, seen)
}

func TestPolicyStages(t *testing.T) {
	t.Parallel()
	var conns = make(chan message.Conn, 10)
	pol := policyFunc{
		connect: func(c *message.Conn) *Reject {
			conns <- *c
			if c.TLS == "" {
				return &Reject{550, [3]int{5, 7, 1}, "TLS\r\nrequired by policy"}
			}
			return nil
		},
		rcpt: func(_ *message.Conn, rcpt string) *Reject {
			if rcpt == "blocked@corp.example" {
				return &Reject{550, [3]int{5, 1, 1}, "No such user"}
			}
			return nil
		},
		data: func(env *message.Envelope) *Reject {
			if env.MailFrom == "spam@client.example" {
				return deny
			}
			return nil
		},
	}
	b := setup(t, func(ep *Endpoint) {
		ep.TLSConfig = serverTLS()
		ep.Policy = pol
	})
	c := dial(t, b.addr, 220)
	c.ehlo("client.example")
	// The connection's facts are final at MAIL: judged without TLS.
	line := c.cmd("MAIL FROM:<a@client.example>", 550, "5.7.1")
	require.Equal(t, "5.7.1 TLS??required by policy", line, "reply text sanitised")
	c.cmd("MAIL FROM:<a@client.example>", 550) // the verdict holds
	require.Len(t, conns, 1)

	// After STARTTLS the connection is judged again.
	c.startTLS(clientTLS())
	c.ehlo("client.example")
	c.cmd("MAIL FROM:<spam@client.example>", 250)
	got := <-conns // the first verdict: before TLS
	require.Empty(t, got.TLS)
	require.Equal(t, "client.example", got.Helo)
	got = <-conns
	require.Equal(t, "TLS1_3", got.TLS)
	require.Equal(t, "client.example", got.Helo)
	c.cmd("RCPT TO:<blocked@corp.example>", 550, "5.1.1 No such user")
	c.cmd("RCPT TO:<ok@corp.example>", 250)
	c.cmd("DATA", 550, "5.7.1")
	c.cmd("RCPT TO:<ok@corp.example>", 503) // the transaction is over
	require.Empty(t, b.spool.all())

	// Without STARTTLS on offer, the connection is judged before the
	// greeting.
	b2 := setup(t, func(ep *Endpoint) {
		ep.Policy = policyFunc{connect: func(c *message.Conn) *Reject {
			if c.RemoteIP.IsLoopback() {
				return deny
			}
			return nil
		}}
	})
	c2 := dial(t, b2.addr, 550)
	c2.expectClosed()
	require.Equal(t, []Reason{ReasonPolicy}, b2.obs.reasons())
}

func TestSpoolFailures(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := dial(t, b.addr, 220)
	b.spool.setFail(errors.New("disk full"))
	c.begin()
	c.send("Subject: x\r\n\r\nbody\r\n.\r\n")
	c.expect(451, "4.3.0")
	require.Contains(t, b.obs.reasons(), ReasonSpool)

	b.spool.setFail(&Reject{554, [3]int{5, 7, 1}, "Content rejected"})
	c.cmd("MAIL FROM:<a@client.example>", 250)
	c.cmd("RCPT TO:<b@corp.example>", 250)
	c.cmd("DATA", 354)
	c.send("Subject: x\r\n\r\nbody\r\n.\r\n")
	c.expect(554, "5.7.1 Content rejected")

	b.spool.setFail(nil)
	c.cmd("MAIL FROM:<a@client.example>", 250)
	c.cmd("RCPT TO:<b@corp.example>", 250)
	c.cmd("DATA", 354)
	c.send("Subject: x\r\n\r\nbody\r\n.\r\n")
	c.expect(250)
	require.Len(t, b.spool.all(), 1)
}

// shortSpool returns a queue id without reading the whole body: the server
// must not say 250.
type shortSpool struct{}

func (shortSpool) Spool(_ context.Context, _ *message.Envelope, body io.Reader) (string, error) {
	_, err := body.Read(make([]byte, 10))
	return "Q", err
}

func TestSpoolMustReadEverything(t *testing.T) {
	t.Parallel()
	b := setup(t, func(ep *Endpoint) { ep.Spool = shortSpool{} })
	c := dial(t, b.addr, 220)
	c.begin()
	c.send("Subject: x\r\n\r\n" + strings.Repeat("body\r\n", 1000) + ".\r\n")
	c.expect(451, "4.3.0")
	c.cmd("NOOP", 250)
}

func TestMessageSize(t *testing.T) {
	t.Parallel()
	b := setup(t, func(ep *Endpoint) { ep.MaxMessageBytes = 1000 })
	c := dial(t, b.addr, 220)
	c.ehlo("client.example")
	c.cmd("MAIL FROM:<a@client.example> SIZE=1001", 552, "5.3.4")
	c.cmd("MAIL FROM:<a@client.example> SIZE=1000", 250)
	c.cmd("RCPT TO:<b@corp.example>", 250)
	c.cmd("DATA", 354)
	c.send(strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz\r\n", 30) + ".\r\n") // 1140 octets
	c.expect(552, "5.3.4")
	c.cmd("NOOP", 250) // in step

	// Exactly at the limit is fine.
	c.cmd("MAIL FROM:<a@client.example>", 250)
	c.cmd("RCPT TO:<b@corp.example>", 250)
	c.cmd("DATA", 354)
	c.send(strings.Repeat("x", 998) + "\r\n.\r\n")
	c.expect(250)

	// A client that goes on and on is hung up on.
	c.cmd("MAIL FROM:<a@client.example>", 250)
	c.cmd("RCPT TO:<b@corp.example>", 250)
	c.cmd("DATA", 354)
	line := strings.Repeat("y", 500) + "\r\n"
	go func() {
		for i := 0; i < 10000; i++ { // 5 MB, far beyond 2 * 1000 + 1 MiB
			if _, err := c.nc.Write([]byte(line)); err != nil {
				return
			}
		}
	}()
	c.expect(552, "5.3.4")
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.ReadAll(c.r)
	if err != nil {
		require.Contains(t, err.Error(), "reset by peer")
	}
	require.Len(t, b.spool.all(), 1)
}

// TestLargeMessageIsStreamed sends 50 MB and checks that the server did
// not hold it in memory: the process allocates far less than the message.
func TestLargeMessageIsStreamed(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MB")
	}
	b := setup(t, func(ep *Endpoint) { ep.MaxMessageBytes = 64 << 20 })
	c := dial(t, b.addr, 220)
	c.begin()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	line := []byte(strings.Repeat("0123456789", 7) + "abcdefgh\r\n") // 80 octets
	chunk := bytes.Repeat(line, 400)                                 // 32000 octets
	const total = 50_000_000
	c.nc.SetWriteDeadline(time.Now().Add(2 * time.Minute))
	for sent := 0; sent < total; sent += len(chunk) {
		_, err := c.nc.Write(chunk)
		require.NoError(t, err)
	}
	sent := (total + len(chunk) - 1) / len(chunk) * len(chunk)
	c.send(".\r\n")
	c.expect(250)
	runtime.ReadMemStats(&after)

	m := b.spool.all()[0]
	require.Greater(t, m.size, int64(sent))
	require.Less(t, m.size, int64(sent+1000)) // the Received header
	require.Equal(t, m.size, m.env.Size)
	allocated := after.TotalAlloc - before.TotalAlloc
	require.Less(t, allocated, uint64(8<<20), "allocated %d bytes for a 50 MB message", allocated)
}

func TestLineLengths(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := dial(t, b.addr, 220)
	c.ehlo("client.example")
	// 512 octets with CRLF is the limit for commands.
	c.cmd("NOOP "+strings.Repeat("x", 505), 250)
	c.cmd("NOOP "+strings.Repeat("x", 506), 500, "5.5.2")
	// MAIL may be longer, for its parameters.
	long := "<" + strings.Repeat("a", 60) + "@" + strings.Repeat("b", 60) + "." + strings.Repeat("c", 60) + ".example>"
	c.cmd("MAIL FROM:"+long+" SIZE=100 BODY=8BITMIME AUTH="+strings.Repeat("z", 300), 250)
	c.cmd("RCPT TO:<b@corp.example> "+strings.Repeat("x", 600), 500, "5.5.2")
	// Longer than the read buffer: skipped to its end, then in step.
	c.cmd("RCPT TO:<"+strings.Repeat("x", 20000)+"@corp.example>", 500, "5.5.2")
	c.cmd("RCPT TO:<b@corp.example>", 250)

	// Message lines: 1000 octets with CRLF.
	c.cmd("DATA", 354)
	c.send(strings.Repeat("x", 998) + "\r\n" + strings.Repeat("y", 999) + "\r\nmore\r\n.\r\n")
	c.expect(550, "5.5.2")
	c.cmd("NOOP", 250)
	c.cmd("MAIL FROM:<a@client.example>", 250)
	c.cmd("RCPT TO:<b@corp.example>", 250)
	c.cmd("DATA", 354)
	c.send("." + strings.Repeat("x", 998) + "\r\n" + strings.Repeat("z", 20000) + "\r\n.\r\n") // stuffed: 998 after un-stuffing
	c.expect(550, "5.5.2")
	c.cmd("NOOP", 250)
	require.Empty(t, b.spool.all())
	require.Contains(t, b.obs.reasons(), ReasonLineTooLong)

	// A line that never ends: hung up on.
	c.send("NOOP " + strings.Repeat("x", 100<<10))
	c.expect(500, "5.5.2")
	c.expectClosed()
}

func TestMailLoop(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := dial(t, b.addr, 220)
	c.begin()
	c.send(strings.Repeat("Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000\r\n", maxHops+1) + "\r\nbody\r\n.\r\n")
	c.expect(554, "5.4.6")
	c.cmd("MAIL FROM:<a@client.example>", 250)
	c.cmd("RCPT TO:<b@corp.example>", 250)
	c.cmd("DATA", 354)
	c.send(strings.Repeat("Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000\r\n", maxHops) + "\r\nbody\r\n" + strings.Repeat("Received: x\r\n", 100) + ".\r\n")
	c.expect(250)
}

func TestTimeouts(t *testing.T) {
	t.Parallel()
	b := setup(t, func(ep *Endpoint) {
		ep.CommandTimeout = 300 * time.Millisecond
		ep.DataTimeout = 600 * time.Millisecond
	})
	c := dial(t, b.addr, 220)
	start := time.Now()
	c.expect(421, "4.4.2") // nothing sent
	require.GreaterOrEqual(t, time.Since(start), 250*time.Millisecond)
	c.expectClosed()

	// DATA as a whole is bounded too, however regularly the client sends.
	c = dial(t, b.addr, 220)
	c.begin()
	start = time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for time.Since(start) < 5*time.Second {
			if _, err := c.nc.Write([]byte("x\r\n")); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond) // a slow client, not a wait in the test
		}
	}()
	c.expect(421, "4.4.2")
	require.Less(t, time.Since(start), 3*time.Second)
	c.nc.Close()
	<-done
	require.Empty(t, b.spool.all())
	require.Contains(t, b.obs.reasons(), ReasonTimeout)
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	idle := dial(t, b.addr, 220)
	idle.ehlo("client.example")
	busy := dial(t, b.addr, 220)
	busy.begin()
	busy.send("Subject: x\r\n\r\nfirst half\r\n")

	shut := make(chan error, 1)
	go func() { shut <- b.srv.Shutdown(context.Background()) }()

	// The idle session is told at once.
	idle.expect(421, "4.3.2")
	idle.expectClosed()
	// New connections are refused (the listener is closed).
	require.Eventually(t, func() bool {
		nc, err := net.Dial("tcp", b.addr)
		if err != nil {
			return true
		}
		nc.Close()
		return false
	}, 10*time.Second, 10*time.Millisecond)
	// The one in DATA finishes its message, then is told.
	busy.send("second half\r\n.\r\n")
	busy.expect(250, "queued as Q1")
	busy.expect(421, "4.3.2")
	busy.expectClosed()
	require.NoError(t, <-shut)
	require.Len(t, b.spool.all(), 1)
}

func TestShutdownDeadline(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	busy := dial(t, b.addr, 220)
	busy.begin()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, b.srv.Shutdown(ctx), context.DeadlineExceeded)
	busy.expectClosed()
	require.Empty(t, b.spool.all())
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	sp := newMemSpool()
	for _, ep := range []Endpoint{
		{},
		{Spool: sp, TLSPolicy: "SOMETIMES"},
		{Spool: sp, TLSPolicy: TLSRequired},
		{Spool: sp, Auth: func(context.Context, string, string) (bool, error) { return true, nil }},
		{Spool: sp, RequireClientCert: pki().caPool},
		{Spool: sp, Hostname: "bad host"},
		{Spool: sp, MaxMessageBytes: -1},
	} {
		_, err := New(ep)
		require.Error(t, err, "%+v", ep)
	}
	s, err := New(Endpoint{Spool: sp})
	require.NoError(t, err)
	require.Equal(t, int64(DefaultMaxMessageBytes), s.ep.MaxMessageBytes)
}

// TestRealClientAuth authenticates with go-smtp's client and go-sasl.
func TestRealClientAuth(t *testing.T) {
	t.Parallel()
	b := setup(t, func(ep *Endpoint) {
		ep.TLSConfig = serverTLS()
		ep.Auth = func(_ context.Context, user, pass string) (bool, error) {
			return user == "app" && pass == "s3cret", nil
		}
	})
	cl, err := smtp.DialStartTLS(b.addr, clientTLS())
	require.NoError(t, err)
	defer cl.Close()
	require.NoError(t, cl.Auth(sasl.NewPlainClient("", "app", "s3cret")))
	require.NoError(t, cl.SendMail("app@client.example", []string{"b@corp.example"}, strings.NewReader("Subject: x\r\n\r\nhi\r\n")))
	env := b.spool.all()[0].env
	require.Equal(t, "app", env.Conn.AuthUser)
	require.Contains(t, string(b.spool.all()[0].body), "with ESMTPSA")
}

// TestManyConnectionsStayCheap holds many idle sessions and checks what
// each costs the process: buffers and a goroutine, nothing more.
func TestManyConnectionsStayCheap(t *testing.T) {
	if testing.Short() {
		t.Skip("1000 connections")
	}
	const n = 1000
	b := setup(t, func(ep *Endpoint) { ep.MaxConnections = n })
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, nc := range conns {
			nc.Close()
		}
	}()
	buf := make([]byte, 512)
	for range n {
		nc, err := net.Dial("tcp", b.addr)
		require.NoError(t, err)
		conns = append(conns, nc)
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = nc.Write([]byte("EHLO client.example\r\n"))
		require.NoError(t, err)
	}
	for _, nc := range conns { // greeting and EHLO reply, so each session has used its buffers
		got := ""
		for !strings.Contains(got, "250 ENHANCEDSTATUSCODES\r\n") {
			k, err := nc.Read(buf)
			require.NoError(t, err)
			got += string(buf[:k])
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perConn := (int64(after.HeapInuse+after.StackInuse) - int64(before.HeapInuse+before.StackInuse)) / n
	t.Logf("%d bytes per idle session (client side included)", perConn)
	require.Less(t, perConn, int64(64<<10))
	over := dial(t, b.addr, 421, "4.7.0")
	over.expectClosed()
}
