package delivery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

const testMsg = "From: a@src.test\r\nTo: b@dst.test\r\nSubject: hi\r\n\r\nHello.\r\n"

func newDeliverer(t *testing.T, cfg Config) *Deliverer {
	t.Helper()
	if cfg.LocalName == "" {
		cfg.LocalName = "tidings.test"
	}
	dl := New(cfg)
	t.Cleanup(func() { dl.Close() })
	return dl
}

func want(t *testing.T, rr RecipientResult, st Status, code int, enh string) {
	t.Helper()
	if rr.Status != st || rr.Reply.Code != code || rr.Reply.Enhanced != enh {
		t.Errorf("%s: got %v %q, want %v %d %s", rr.Recipient, rr.Status, rr.Reply.String(), st, code, enh)
	}
}

func TestDeliverToRelay(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	dl := newDeliverer(t, Config{})
	// A leading dot, a bare LF, a bare CR and no final line end: the server
	// must get dot-stuffing undone and CRLF everywhere.
	body := "Subject: x\r\n\r\n.leading dot\nbare LF\rbare CR\r\nlast"
	res := dl.Deliver(context.Background(), ts.relay(), Envelope{MailFrom: "a@src.test", Recipients: []string{"b@dst.test", "c@dst.test"}, EightBit: true, Size: int64(len(body))}, msgBody(body))
	for _, rr := range res.Recipients {
		want(t, rr, Delivered, 250, "2.0.0")
		if rr.RemoteMTA != "127.0.0.1" {
			t.Errorf("RemoteMTA = %q", rr.RemoteMTA)
		}
	}
	msgs := ts.messages()
	if len(msgs) != 1 {
		t.Fatalf("server got %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if got, want := string(m.body), "Subject: x\r\n\r\n.leading dot\r\nbare LF\r\nbare CR\r\nlast\r\n"; got != want {
		t.Errorf("body = %q, want %q", got, want)
	}
	if m.from != "a@src.test" || strings.Join(m.to, ",") != "b@dst.test,c@dst.test" {
		t.Errorf("envelope = %q %q", m.from, m.to)
	}
	if m.helo != "tidings.test" {
		t.Errorf("EHLO name = %q", m.helo)
	}
	if m.opts.Body != smtp.Body8BitMIME || m.opts.Size != int64(len(body)) {
		t.Errorf("MAIL options = %+v", m.opts)
	}
	if m.tls || res.TLS {
		t.Error("TLS used with a server that offers none")
	}
}

func TestReplyClassification(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		mail   error
		rcpt   error
		data   error
		status Status
		code   int
		enh    string
	}{
		{"tempfail at RCPT", nil, smtpErr(451, smtp.EnhancedCode{4, 3, 0}, "try later"), nil, Deferred, 451, "4.3.0"},
		{"permfail at RCPT", nil, smtpErr(550, smtp.EnhancedCode{5, 1, 1}, "no such user"), nil, Failed, 550, "5.1.1"},
		{"tempfail at MAIL", smtpErr(451, smtp.EnhancedCode{4, 7, 1}, "greylisted"), nil, nil, Deferred, 451, "4.7.1"},
		{"permfail at MAIL", smtpErr(553, smtp.EnhancedCode{5, 7, 1}, "sender refused"), nil, nil, Failed, 553, "5.7.1"},
		{"tempfail after data", nil, nil, smtpErr(451, smtp.EnhancedCode{4, 3, 0}, "queue full"), Deferred, 451, "4.3.0"},
		{"permfail after data", nil, nil, smtpErr(554, smtp.EnhancedCode{5, 7, 1}, "spam"), Failed, 554, "5.7.1"},
		{"421 at RCPT", nil, smtpErr(421, smtp.EnhancedCode{4, 3, 2}, "shutting down"), nil, Deferred, 421, "4.3.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t)
			ts.mail = func(string, *smtp.MailOptions) error { return tc.mail }
			ts.rcpt = func(string) error { return tc.rcpt }
			ts.data = func(string, []string, []byte) error { return tc.data }
			dl := newDeliverer(t, Config{})
			res := dl.Deliver(context.Background(), ts.relay(), Envelope{MailFrom: "a@src.test", Recipients: []string{"b@dst.test", "c@dst.test"}}, msgBody(testMsg))
			for _, rr := range res.Recipients {
				want(t, rr, tc.status, tc.code, tc.enh)
				if rr.Reply.Text == "" || rr.RemoteMTA != "127.0.0.1" {
					t.Errorf("reply text missing: %+v", rr.Reply)
				}
			}
			if len(ts.messages()) != 0 {
				t.Error("a refused message was stored")
			}
			// A connection after 421 is closed; any other stays pooled.
			if idle := dl.IdleConns(); (tc.code == 421) == (idle == 1) {
				t.Errorf("idle connections = %d after %d", idle, tc.code)
			}
		})
	}
}

func TestPartialRecipients(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	var mails int
	ts.mail = func(string, *smtp.MailOptions) error { mails++; return nil }
	ts.rcpt = func(to string) error {
		switch {
		case strings.HasPrefix(to, "gone"):
			return smtpErr(550, smtp.EnhancedCode{5, 1, 1}, "user unknown")
		case strings.HasPrefix(to, "full"):
			return smtpErr(452, smtp.EnhancedCode{4, 2, 2}, "mailbox full")
		}
		return nil
	}
	dl := newDeliverer(t, Config{})
	rcpts := []string{"ok1@dst.test", "gone@dst.test", "full@dst.test", "ok2@dst.test", "bad address@dst.test"}
	res := dl.Deliver(context.Background(), ts.relay(), Envelope{MailFrom: "a@src.test", Recipients: rcpts}, msgBody(testMsg))
	want(t, res.Recipients[0], Delivered, 250, "2.0.0")
	want(t, res.Recipients[1], Failed, 550, "5.1.1")
	want(t, res.Recipients[2], Deferred, 452, "4.2.2")
	want(t, res.Recipients[3], Delivered, 250, "2.0.0")
	want(t, res.Recipients[4], Failed, 0, "5.1.3")
	if n := res.Count(Delivered); n != 2 {
		t.Errorf("Count(Delivered) = %d", n)
	}
	msgs := ts.messages()
	if len(msgs) != 1 || strings.Join(msgs[0].to, ",") != "ok1@dst.test,ok2@dst.test" {
		t.Fatalf("server got %+v", msgs)
	}
	// 452 4.2.2 is about the mailbox, not the recipient count: no second
	// transaction for it.
	if conns, _, _, _ := ts.stats(); conns != 1 || mails != 1 {
		t.Errorf("connections = %d, transactions = %d", conns, mails)
	}
}

func TestTooManyRecipientsSplit(t *testing.T) {
	t.Parallel()
	ts := startServer(t, with(func(s *smtp.Server) { s.MaxRecipients = 2 }))
	dl := newDeliverer(t, Config{})
	var rcpts []string
	for i := range 5 {
		rcpts = append(rcpts, fmt.Sprintf("r%d@dst.test", i))
	}
	res := dl.Deliver(context.Background(), ts.relay(), Envelope{MailFrom: "a@src.test", Recipients: rcpts}, msgBody(testMsg))
	if n := res.Count(Delivered); n != 5 {
		t.Fatalf("delivered %d of 5: %+v", n, res.Recipients)
	}
	msgs := ts.messages()
	if len(msgs) != 3 {
		t.Fatalf("transactions = %d, want 3 (2+2+1)", len(msgs))
	}

	// The client's own limit splits too, without a 452.
	ts2 := startServer(t)
	dl2 := newDeliverer(t, Config{MaxRecipientsPerTransaction: 2})
	res = dl2.Deliver(context.Background(), ts2.relay(), Envelope{MailFrom: "a@src.test", Recipients: rcpts}, msgBody(testMsg))
	if n := res.Count(Delivered); n != 5 || len(ts2.messages()) != 3 {
		t.Fatalf("delivered %d in %d transactions", n, len(ts2.messages()))
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	cert, pool := selfSigned(t)
	env := Envelope{MailFrom: "a@src.test", Recipients: []string{"b@dst.test"}}

	t.Run("over STARTTLS", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, withTLS(cert))
		ts.authUser, ts.authPass = "relayuser", "s3cret"
		dl := newDeliverer(t, Config{RootCAs: pool})
		dest := ts.relay()
		dest.Username, dest.Password = "relayuser", "s3cret"
		res := dl.Deliver(context.Background(), dest, env, msgBody(testMsg))
		want(t, res.Recipients[0], Delivered, 250, "2.0.0")
		if m := ts.messages(); len(m) != 1 || m[0].user != "relayuser" || !m[0].tls {
			t.Fatalf("server got %+v", m)
		}
	})
	t.Run("wrong password is deferred", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, withTLS(cert))
		ts.authUser, ts.authPass = "relayuser", "s3cret"
		dl := newDeliverer(t, Config{RootCAs: pool})
		dest := ts.relay()
		dest.Username, dest.Password = "relayuser", "wrong"
		res := dl.Deliver(context.Background(), dest, env, msgBody(testMsg))
		want(t, res.Recipients[0], Deferred, 535, "5.7.8")
	})
	t.Run("no credentials without TLS", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, with(func(s *smtp.Server) { s.AllowInsecureAuth = true }))
		ts.authUser, ts.authPass = "relayuser", "s3cret"
		dl := newDeliverer(t, Config{})
		dest := ts.relay()
		dest.Username, dest.Password = "relayuser", "s3cret"
		res := dl.Deliver(context.Background(), dest, env, msgBody(testMsg))
		want(t, res.Recipients[0], Deferred, 0, "4.7.0")

		dest.TLS.AllowPlaintextAuth = true
		res = dl.Deliver(context.Background(), dest, env, msgBody(testMsg))
		want(t, res.Recipients[0], Delivered, 250, "2.0.0")
	})
	t.Run("server requires AUTH we lack", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, withTLS(cert))
		ts.authUser, ts.authPass = "relayuser", "s3cret"
		dl := newDeliverer(t, Config{RootCAs: pool})
		res := dl.Deliver(context.Background(), ts.relay(), env, msgBody(testMsg))
		want(t, res.Recipients[0], Failed, 502, "5.7.0")
	})
}

func TestSTARTTLS(t *testing.T) {
	t.Parallel()
	cert, pool := selfSigned(t)
	env := Envelope{MailFrom: "a@src.test", Recipients: []string{"b@dst.test"}}

	t.Run("relay verifies by default", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, withTLS(cert))
		dl := newDeliverer(t, Config{}) // system roots: the self-signed cert fails
		res := dl.Deliver(context.Background(), ts.relay(), env, msgBody(testMsg))
		want(t, res.Recipients[0], Deferred, 0, "4.7.5")
		if len(ts.messages()) != 0 {
			t.Fatal("delivered in plaintext after a failed verification")
		}
		dl2 := newDeliverer(t, Config{RootCAs: pool})
		res = dl2.Deliver(context.Background(), ts.relay(), env, msgBody(testMsg))
		want(t, res.Recipients[0], Delivered, 250, "2.0.0")
		if !res.TLS || !ts.messages()[0].tls {
			t.Fatal("not delivered over TLS")
		}
	})
	t.Run("implicit TLS", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, implicitTLS(cert))
		dl := newDeliverer(t, Config{RootCAs: pool})
		dest := ts.relay()
		dest.TLS.Implicit = true
		res := dl.Deliver(context.Background(), dest, env, msgBody(testMsg))
		want(t, res.Recipients[0], Delivered, 250, "2.0.0")
		if !res.TLS {
			t.Fatal("TLS not reported")
		}
	})
	t.Run("relay with verification off", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, withTLS(cert))
		dl := newDeliverer(t, Config{})
		dest := ts.relay()
		dest.TLS.Verify = VerifyNever
		res := dl.Deliver(context.Background(), dest, env, msgBody(testMsg))
		want(t, res.Recipients[0], Delivered, 250, "2.0.0")
		if !res.TLS {
			t.Fatal("TLS not used")
		}
	})
	t.Run("MX is opportunistic without verification", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, withTLS(cert))
		res := deliverMX(t, ts, nil, TLSPolicy{}, env)
		want(t, res.Recipients[0], Delivered, 250, "2.0.0")
		if !res.TLS || !ts.messages()[0].tls {
			t.Fatal("not delivered over TLS")
		}
	})
	t.Run("MX with verification against the MX name", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, withTLS(cert))
		res := deliverMX(t, ts, pool, TLSPolicy{Verify: VerifyAlways}, env)
		want(t, res.Recipients[0], Delivered, 250, "2.0.0") // cert names mx.example.test
	})
	t.Run("required but not offered", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t)
		res := deliverMX(t, ts, nil, TLSPolicy{Require: true}, env)
		want(t, res.Recipients[0], Deferred, 0, "4.7.5")
		if len(ts.messages()) != 0 {
			t.Fatal("delivered without TLS")
		}
	})
	t.Run("failed handshake falls back to plaintext when opportunistic", func(t *testing.T) {
		t.Parallel()
		broken := with(func(s *smtp.Server) {
			s.TLSConfig = &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
				return nil, errors.New("no certificate today")
			}}
		})
		ts := startServer(t, broken)
		res := deliverMX(t, ts, nil, TLSPolicy{}, env)
		want(t, res.Recipients[0], Delivered, 250, "2.0.0")
		if res.TLS {
			t.Fatal("TLS reported")
		}
		if conns, _, _, _ := ts.stats(); conns != 2 {
			t.Fatalf("connections = %d, want 2 (TLS, then plaintext)", conns)
		}

		ts2 := startServer(t, broken)
		res = deliverMX(t, ts2, nil, TLSPolicy{Require: true}, env)
		want(t, res.Recipients[0], Deferred, 0, "4.7.5")
	})
}

// deliverMX delivers to ts as the single MX host of dst.test.
func deliverMX(t *testing.T, ts *testServer, roots *x509.CertPool, pol TLSPolicy, env Envelope) Result {
	t.Helper()
	res := &fakeResolver{
		mx: map[string][]*net.MX{"dst.test": {{Host: "mx.example.test.", Pref: 10}}},
		ip: map[string][]net.IP{"mx.example.test": {net.ParseIP("192.0.2.1")}},
	}
	dial := &mapDialer{routes: map[string]string{"192.0.2.1:25": ts.addr}}
	dl := newDeliverer(t, Config{Resolver: res, Dialer: dial, RootCAs: roots})
	d := MX("dst.test")
	d.TLS = pol
	return dl.Deliver(context.Background(), d, env, msgBody(testMsg))
}

func TestConnectionReuse(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	dl := newDeliverer(t, Config{MaxMessagesPerConn: 3})
	for i := range 7 {
		res := dl.Deliver(context.Background(), ts.relay(), Envelope{MailFrom: "a@src.test", Recipients: []string{fmt.Sprintf("r%d@dst.test", i)}}, msgBody(testMsg))
		want(t, res.Recipients[0], Delivered, 250, "2.0.0")
	}
	// The server resets after replying to the data; wait for the last one.
	waitFor(t, "11 resets", func() bool { _, _, _, r := ts.stats(); return r >= 11 })
	conns, _, _, resets := ts.stats()
	if conns != 3 {
		t.Errorf("connections = %d, want 3 for 7 messages at 3 per connection", conns)
	}
	// go-smtp resets the session after each DATA and on each RSET: 7 DATA
	// and one RSET per reuse (2 on each of the first two connections).
	if resets != 7+4 {
		t.Errorf("server saw %d resets, want 11", resets)
	}
	if len(ts.messages()) != 7 {
		t.Errorf("messages = %d", len(ts.messages()))
	}
}

func TestIdleTimeoutClosesPooledConnection(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	dl := newDeliverer(t, Config{IdleTimeout: 20 * time.Millisecond})
	res := dl.Deliver(context.Background(), ts.relay(), Envelope{MailFrom: "a@src.test", Recipients: []string{"b@dst.test"}}, msgBody(testMsg))
	want(t, res.Recipients[0], Delivered, 250, "2.0.0")
	waitFor(t, "the idle connection to close", func() bool {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		return ts.open == 0 && dl.IdleConns() == 0
	})
	dl.mu.Lock()
	n := len(dl.dests)
	dl.mu.Unlock()
	if n != 0 {
		t.Errorf("%d destinations still tracked", n)
	}
}

func TestStalePooledConnectionIsReplaced(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	dl := newDeliverer(t, Config{})
	env := Envelope{MailFrom: "a@src.test", Recipients: []string{"b@dst.test"}}
	res := dl.Deliver(context.Background(), ts.relay(), env, msgBody(testMsg))
	want(t, res.Recipients[0], Delivered, 250, "2.0.0")
	ts.dropAll()
	<-ts.connClosed
	res = dl.Deliver(context.Background(), ts.relay(), env, msgBody(testMsg))
	want(t, res.Recipients[0], Delivered, 250, "2.0.0")
	if conns, _, _, _ := ts.stats(); conns != 2 || len(ts.messages()) != 2 {
		t.Fatalf("connections = %d, messages = %d", conns, len(ts.messages()))
	}
}

func TestConcurrencyLimit(t *testing.T) {
	t.Parallel()
	const limit, n = 4, 24
	ts := startServer(t)
	gate := make(chan struct{})
	var inData, maxInData int
	var mu sync.Mutex
	ts.data = func(string, []string, []byte) error {
		mu.Lock()
		inData++
		maxInData = max(maxInData, inData)
		mu.Unlock()
		<-gate
		mu.Lock()
		inData--
		mu.Unlock()
		return nil
	}
	dl := newDeliverer(t, Config{MaxConnsPerDestination: limit})
	var wg sync.WaitGroup
	results := make([]Result, n)
	for i := range n {
		wg.Go(func() {
			results[i] = dl.Deliver(context.Background(), ts.relay(), Envelope{MailFrom: "a@src.test", Recipients: []string{fmt.Sprintf("r%d@dst.test", i)}}, msgBody(testMsg))
		})
	}
	waitFor(t, "the limit to be reached", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return inData == limit
	})
	close(gate)
	wg.Wait()
	for _, r := range results {
		want(t, r.Recipients[0], Delivered, 250, "2.0.0")
	}
	conns, maxOpen, maxInTx, _ := ts.stats()
	if maxInData != limit || maxInTx != limit || maxOpen > limit || conns > limit {
		t.Fatalf("max in DATA %d, in transaction %d, open %d, connections %d; limit %d", maxInData, maxInTx, maxOpen, conns, limit)
	}

	// Another destination has its own limit.
	other := Relay("localhost", ts.port)
	if res := dl.Deliver(context.Background(), other, Envelope{MailFrom: "a@src.test", Recipients: []string{"x@dst.test"}}, msgBody(testMsg)); res.Recipients[0].Status != Delivered {
		t.Fatalf("other destination: %+v", res.Recipients[0])
	}
}

// A destination with a Rate starts its transactions 1/Rate apart, however
// many deliveries wait; waiting holds only that destination's slots, and a
// cancelled wait defers without sending.
func TestRatePacesDestination(t *testing.T) {
	t.Parallel()
	const rate, n = 20.0, 6
	ts := startServer(t)
	var mu sync.Mutex
	var dataAt []time.Time
	ts.data = func(string, []string, []byte) error {
		mu.Lock()
		dataAt = append(dataAt, time.Now())
		mu.Unlock()
		return nil
	}
	dl := newDeliverer(t, Config{})
	paced := ts.relay()
	paced.Rate = rate
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res := dl.Deliver(context.Background(), paced, Envelope{MailFrom: "a@src.test", Recipients: []string{fmt.Sprintf("r%d@dst.test", i)}}, msgBody(testMsg))
			want(t, res.Recipients[0], Delivered, 250, "2.0.0")
		})
	}
	// Meanwhile an unpaced destination is not held up by the paced one's
	// queue: it is delivered before the paced one is done.
	other := Relay("localhost", ts.port)
	res := dl.Deliver(context.Background(), other, Envelope{MailFrom: "a@src.test", Recipients: []string{"x@dst.test"}}, msgBody(testMsg))
	want(t, res.Recipients[0], Delivered, 250, "2.0.0")
	mu.Lock()
	early := len(dataAt)
	mu.Unlock()
	wg.Wait()
	if early >= n+1 {
		t.Errorf("the unpaced destination waited for the paced one (%d messages before it)", early-1)
	}
	// The last of n transactions cannot start before (n-1)/rate after the
	// first could: a lower bound only, which no slowness can break.
	mu.Lock()
	last := dataAt[len(dataAt)-1]
	mu.Unlock()
	if min := time.Duration(float64(n-1) / rate * float64(time.Second)); last.Sub(start) < min {
		t.Errorf("%d transactions at %.0f/s took %v, less than %v", n, rate, last.Sub(start), min)
	}

	// A wait cut short by its context defers the message without sending.
	slow := ts.relay()
	slow.Rate = 0.5 // one every 2 s
	res = dl.Deliver(context.Background(), slow, Envelope{MailFrom: "a@src.test", Recipients: []string{"first@dst.test"}}, msgBody(testMsg))
	want(t, res.Recipients[0], Delivered, 250, "2.0.0")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	before := len(ts.messages())
	res = dl.Deliver(ctx, slow, Envelope{MailFrom: "a@src.test", Recipients: []string{"second@dst.test"}}, msgBody(testMsg))
	if res.Recipients[0].Status != Deferred {
		t.Errorf("cancelled wait: %+v, want Deferred", res.Recipients[0])
	}
	if got := len(ts.messages()); got != before {
		t.Errorf("cancelled wait sent the message (%d messages, had %d)", got, before)
	}
}

func TestMXOrderAndFallback(t *testing.T) {
	t.Parallel()
	second := startServer(t)
	third := startServer(t)
	resolver := &fakeResolver{
		mx: map[string][]*net.MX{
			"dst.test": {
				{Host: "mx3.dst.test.", Pref: 30},
				{Host: "mx1.dst.test.", Pref: 10}, // refuses connections on both addresses
				{Host: "mx2.dst.test.", Pref: 20}, // takes the message
				{Host: "mx0.dst.test.", Pref: 5},  // has no address
			},
		},
		ip: map[string][]net.IP{
			"mx1.dst.test": {net.ParseIP("192.0.2.1"), net.ParseIP("2001:db8::1")},
			"mx2.dst.test": {net.ParseIP("192.0.2.2")},
			"mx3.dst.test": {net.ParseIP("192.0.2.3")},
		},
	}
	dial := &mapDialer{routes: map[string]string{"192.0.2.2:25": second.addr, "192.0.2.3:25": third.addr}}
	dl := newDeliverer(t, Config{Resolver: resolver, Dialer: dial})
	env := Envelope{MailFrom: "a@src.test", Recipients: []string{"b@dst.test"}}
	res := dl.Deliver(context.Background(), MX("dst.test"), env, msgBody(testMsg))
	want(t, res.Recipients[0], Delivered, 250, "2.0.0")
	if res.RemoteMTA != "mx2.dst.test" || len(second.messages()) != 1 || len(third.messages()) != 0 {
		t.Fatalf("delivered via %s", res.RemoteMTA)
	}
	if got := strings.Join(dial.dialed(), " "); got != "192.0.2.1:25 [2001:db8::1]:25 192.0.2.2:25" {
		t.Fatalf("dial order = %s", got)
	}

	// With mx2 refusing the session, mx3 takes the message.
	second.srv.Close()
	dl2 := newDeliverer(t, Config{Resolver: resolver, Dialer: dial})
	res = dl2.Deliver(context.Background(), MX("dst.test"), env, msgBody(testMsg))
	want(t, res.Recipients[0], Delivered, 250, "2.0.0")
	if res.RemoteMTA != "mx3.dst.test" || len(third.messages()) != 1 {
		t.Fatalf("delivered via %s", res.RemoteMTA)
	}

	// All down: deferred with the last connection error.
	dl3 := newDeliverer(t, Config{Resolver: resolver, Dialer: &mapDialer{}})
	res = dl3.Deliver(context.Background(), MX("dst.test"), env, msgBody(testMsg))
	want(t, res.Recipients[0], Deferred, 0, "4.4.1")
}

func TestGreetingRefusalTriesNextMX(t *testing.T) {
	t.Parallel()
	good := startServer(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "554 5.7.1 go away\r\n")
			c.Close()
		}
	}()
	resolver := &fakeResolver{
		mx: map[string][]*net.MX{"dst.test": {{Host: "a.dst.test", Pref: 1}, {Host: "b.dst.test", Pref: 2}}},
		ip: map[string][]net.IP{"a.dst.test": {net.ParseIP("192.0.2.1")}, "b.dst.test": {net.ParseIP("192.0.2.2")}},
	}
	dial := &mapDialer{routes: map[string]string{"192.0.2.1:25": l.Addr().String(), "192.0.2.2:25": good.addr}}
	dl := newDeliverer(t, Config{Resolver: resolver, Dialer: dial})
	res := dl.Deliver(context.Background(), MX("dst.test"), Envelope{MailFrom: "a@src.test", Recipients: []string{"b@dst.test"}}, msgBody(testMsg))
	want(t, res.Recipients[0], Delivered, 250, "2.0.0")
	if res.RemoteMTA != "b.dst.test" {
		t.Fatalf("delivered via %s", res.RemoteMTA)
	}
}

func TestMXResolution(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	env := Envelope{MailFrom: "a@src.test", Recipients: []string{"b@dst.test"}}
	for _, tc := range []struct {
		name     string
		resolver *fakeResolver
		status   Status
		enh      string
		dials    int
	}{
		{"implicit MX (RFC 5321 5.1)", &fakeResolver{ip: map[string][]net.IP{"dst.test": {net.ParseIP("192.0.2.9")}}}, Delivered, "2.0.0", 1},
		{"null MX (RFC 7505)", &fakeResolver{mx: map[string][]*net.MX{"dst.test": {{Host: ".", Pref: 0}}}, ip: map[string][]net.IP{"dst.test": {net.ParseIP("192.0.2.9")}}}, Failed, "5.1.10", 0},
		{"no such domain", &fakeResolver{}, Failed, "5.1.2", 0},
		{"MX host without address", &fakeResolver{mx: map[string][]*net.MX{"dst.test": {{Host: "mx.dst.test", Pref: 0}}}}, Deferred, "4.1.2", 0},
		{"relay-like MX host that is an IP", &fakeResolver{mx: map[string][]*net.MX{"dst.test": {{Host: "192.0.2.9", Pref: 0}}}}, Delivered, "2.0.0", 1},
		{"DNS failure", &fakeResolver{mxErr: &net.DNSError{Err: "server misbehaving", IsTemporary: true}}, Deferred, "4.4.3", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dial := &mapDialer{routes: map[string]string{"192.0.2.9:25": ts.addr}}
			dl := newDeliverer(t, Config{Resolver: tc.resolver, Dialer: dial})
			res := dl.Deliver(context.Background(), MX("DST.test."), env, msgBody(testMsg))
			rr := res.Recipients[0]
			if rr.Status != tc.status || rr.Reply.Status() != tc.enh {
				t.Fatalf("got %v %q, want %v %s", rr.Status, rr.Reply.String(), tc.status, tc.enh)
			}
			if n := len(dial.dialed()); n != tc.dials {
				t.Fatalf("dialed %d times", n)
			}
		})
	}
}

func TestSMTPUTF8(t *testing.T) {
	t.Parallel()
	env := Envelope{MailFrom: "a@src.test", Recipients: []string{"jöran@dst.test"}}

	plain := startServer(t)
	dl := newDeliverer(t, Config{})
	res := dl.Deliver(context.Background(), plain.relay(), env, msgBody(testMsg))
	want(t, res.Recipients[0], Failed, 0, "5.6.7")
	// The header alone can need it too.
	res = dl.Deliver(context.Background(), plain.relay(), Envelope{MailFrom: "a@src.test", Recipients: []string{"b@dst.test"}, SMTPUTF8: true}, msgBody(testMsg))
	want(t, res.Recipients[0], Failed, 0, "5.6.7")
	if len(plain.messages()) != 0 {
		t.Fatal("sent without SMTPUTF8")
	}

	utf := startServer(t, with(func(s *smtp.Server) { s.EnableSMTPUTF8 = true }))
	res = dl.Deliver(context.Background(), utf.relay(), env, msgBody(testMsg))
	want(t, res.Recipients[0], Delivered, 250, "2.0.0")
	if m := utf.messages(); len(m) != 1 || !m[0].opts.UTF8 || m[0].to[0] != "jöran@dst.test" {
		t.Fatalf("server got %+v", m)
	}
}

func TestMessageTooBig(t *testing.T) {
	t.Parallel()
	ts := startServer(t, with(func(s *smtp.Server) { s.MaxMessageBytes = 1000 }))
	dl := newDeliverer(t, Config{})
	res := dl.Deliver(context.Background(), ts.relay(), Envelope{MailFrom: "a@src.test", Recipients: []string{"b@dst.test"}, Size: 5000}, msgBody(testMsg))
	want(t, res.Recipients[0], Failed, 0, "5.3.4")
	// Size unknown: the server refuses at the end of data.
	res = dl.Deliver(context.Background(), ts.relay(), Envelope{MailFrom: "a@src.test", Recipients: []string{"b@dst.test"}}, msgBody(testMsg+strings.Repeat(strings.Repeat("x", 78)+"\r\n", 30)))
	want(t, res.Recipients[0], Failed, 552, "5.3.4")
}

func TestBodyErrors(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	dl := newDeliverer(t, Config{})
	env := Envelope{MailFrom: "a@src.test", Recipients: []string{"b@dst.test"}}
	res := dl.Deliver(context.Background(), ts.relay(), env, func() (io.ReadCloser, error) { return nil, errors.New("blob gone") })
	want(t, res.Recipients[0], Deferred, 0, "4.3.0")

	res = dl.Deliver(context.Background(), ts.relay(), env, func() (io.ReadCloser, error) {
		return io.NopCloser(io.MultiReader(strings.NewReader(testMsg), errReader{})), nil
	})
	want(t, res.Recipients[0], Deferred, 0, "4.3.0")
	if len(ts.messages()) != 0 {
		t.Fatal("a truncated message was accepted")
	}
	// The broken connection was not pooled; the next delivery works.
	res = dl.Deliver(context.Background(), ts.relay(), env, msgBody(testMsg))
	want(t, res.Recipients[0], Delivered, 250, "2.0.0")
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk error") }

func TestCancellation(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	inData := make(chan struct{})
	release := make(chan struct{})
	ts.data = func(string, []string, []byte) error {
		close(inData)
		<-release
		return nil
	}
	defer close(release)
	dl := newDeliverer(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-inData; cancel() }()
	res := dl.Deliver(ctx, ts.relay(), Envelope{MailFrom: "a@src.test", Recipients: []string{"b@dst.test"}}, msgBody(testMsg))
	want(t, res.Recipients[0], Deferred, 0, "4.4.7")
	if dl.IdleConns() != 0 {
		t.Fatal("an interrupted connection was pooled")
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	dl := newDeliverer(t, Config{Dialer: &mapDialer{}})
	res := dl.Deliver(context.Background(), Relay("192.0.2.1", 25), Envelope{MailFrom: "a@src.test", Recipients: []string{"x@y>\r\nRCPT TO:<z@w", ""}}, msgBody(testMsg))
	want(t, res.Recipients[0], Failed, 0, "5.1.3")
	want(t, res.Recipients[1], Failed, 0, "5.1.3")
	res = dl.Deliver(context.Background(), Relay("192.0.2.1", 25), Envelope{MailFrom: "a b@src.test", Recipients: []string{"b@dst.test"}}, msgBody(testMsg))
	want(t, res.Recipients[0], Failed, 0, "5.1.7")
	res = dl.Deliver(context.Background(), Destination{}, Envelope{Recipients: []string{"b@dst.test"}}, msgBody(testMsg))
	want(t, res.Recipients[0], Deferred, 0, "4.3.5")
}
