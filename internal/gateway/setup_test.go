package gateway_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	blobfs "github.com/tidings/tidings/internal/blob/fs"
	"github.com/tidings/tidings/internal/delivery"
	"github.com/tidings/tidings/internal/events"
	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/gateway"
	"github.com/tidings/tidings/internal/iam"
	"github.com/tidings/tidings/internal/kms"
	"github.com/tidings/tidings/internal/mailauth"
	"github.com/tidings/tidings/internal/mailmanager"
	"github.com/tidings/tidings/internal/message"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
	"github.com/tidings/tidings/internal/standins"
	"github.com/tidings/tidings/internal/store"
	"github.com/tidings/tidings/internal/store/storetest"
)

const (
	acct     = "111122223333"
	hostname = "mx.gateway.test"
	// senderDomain has an MX on loopback (the test DNS), served by the
	// DSN sink: notifications to its addresses arrive there.
	senderDomain = "sender.test"
)

// bundle is a running gateway over a real store, with a relay target and a
// DSN target, both go-smtp servers on loopback.
type bundle struct {
	t        *testing.T
	ctx      context.Context // caller: account acct
	db       *store.DB
	mail     *mailmanager.Service
	gw       *gateway.Gateway
	blobs    *blobfs.Store
	sink     *sink // the relay target
	dsnSink  *sink // MX of senderDomain
	archiver *fakeArchiver
	pub      *fakePublisher
	sender   *fakeSender
	feedback *fakeFeedback
	mailbox  string
	stand    *standins.Service
	dnsAddr  string // the test DNS server, host:port
}

type setupOpts struct {
	noArchiver bool
	noJobs     bool // do not start the job queue (the test starts it)
	retry      delivery.RetryPolicy
	nodeID     string
	rspamd     gateway.Rspamd
	sealer     *mailauth.Sealer  // ARC sealing of relayed mail
	txt        map[string]string // TXT records of the test DNS (keys)
}

func setup(t *testing.T, opts ...setupOpts) *bundle {
	t.Helper()
	var o setupOpts
	if len(opts) > 0 {
		o = opts[0]
	}
	var db *store.DB
	if os.Getenv(storetest.EnvPostgresURL) != "" {
		db = storetest.OpenPostgres(t)
	} else {
		db = storetest.OpenSQLite(t)
	}
	b := &bundle{
		t:        t,
		ctx:      iam.WithPrincipal(context.Background(), iam.Principal{AccountID: acct}),
		db:       db,
		sink:     startSink(t),
		dsnSink:  startSink(t),
		mailbox:  t.TempDir(),
		pub:      &fakePublisher{},
		sender:   &fakeSender{},
		feedback: &fakeFeedback{},
	}
	var err error
	b.blobs, err = blobfs.New(t.TempDir())
	require.NoError(t, err)
	keys, err := kms.New(db.KMS(), kms.Config{MasterKey: bytes.Repeat([]byte{1}, kms.KeySize)}, nil)
	require.NoError(t, err)
	b.stand, err = standins.New(db.Standins(), keys, standins.Config{Region: "us-east-1"}, nil)
	require.NoError(t, err)
	b.mail, err = mailmanager.New(db.MailManager(), nil, nil, mailmanager.Config{
		Region: "us-east-1", SMTPHost: "127.0.0.1", DefaultTLSPolicy: mm.TlsPolicyOptional,
		CheckSecret: b.stand.CheckSecret, CheckFunction: b.stand.CheckFunction,
	}, nil)
	require.NoError(t, err)

	dnsAddr := startDNSWithTXT(t, map[string]string{"mx." + senderDomain: "127.0.0.1"}, map[string]string{senderDomain: "mx." + senderDomain}, o.txt)
	b.dnsAddr = dnsAddr
	res := mailauth.NewResolver(mailauth.ResolverConfig{Server: dnsAddr, Timeout: time.Second})
	dl := delivery.New(delivery.Config{
		LocalName: hostname,
		Resolver:  res,
		// MX delivery goes to port 25: send it to the DSN sink instead.
		Dialer:      redirectDialer{port25: b.dsnSink.addr},
		IdleTimeout: -1,
	})
	t.Cleanup(func() { dl.Close() })
	verifier, err := mailauth.NewVerifier(mailauth.Config{AuthservID: hostname, Resolver: res})
	require.NoError(t, err)
	cert, _, err := gateway.Certificate("", "", t.TempDir(), hostname)
	require.NoError(t, err)
	var arch gateway.Archiver
	if !o.noArchiver {
		b.archiver = &fakeArchiver{}
		arch = b.archiver
	}
	// REQUEST_RESPONSE invocations go out through the events service, as
	// in the server; 2s bounds one attempt.
	invoker, err := events.New(db.Events(), events.Config{Timeout: 2 * time.Second}, nil)
	require.NoError(t, err)
	retry := o.retry
	if retry.First == 0 {
		retry = delivery.RetryPolicy{First: 200 * time.Millisecond, Max: time.Second, GiveUpAfter: time.Hour}
	}
	b.gw, err = gateway.New(gateway.Config{
		Store:        db.Gateway(),
		Blobs:        b.blobs,
		Control:      b.mail,
		AddressLists: db.MailManager(),
		Verifier:     verifier,
		Deliverer:    dl,
		Sealer:       o.sealer,
		Archiver:     arch,
		Hostname:     hostname,
		ListenHost:   "127.0.0.1",
		TLSConfig:    &tls.Config{Certificates: []tls.Certificate{cert}},
		MailboxDir:   b.mailbox,
		Retry:        retry,
		PollInterval: 50 * time.Millisecond,
		NodeID:       o.nodeID,
		Publisher:    b.pub,
		Sender:       b.sender,
		Feedback:     b.feedback,
		StandIns:     b.stand,
		Invoker:      invoker,
		CacheTTL:     time.Millisecond,
		Rspamd:       o.rspamd,
		Logger:       testLog(t),
	})
	require.NoError(t, err)
	require.NoError(t, b.gw.Register(db.Jobs()))
	if !o.noJobs {
		b.startJobs()
	}
	require.NoError(t, b.gw.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, b.gw.Stop(ctx))
	})
	return b
}

func (b *bundle) startJobs() {
	require.NoError(b.t, b.db.Jobs().Start(context.Background()))
}

// testLog sends the gateway's log to t; lines after the test ended are
// dropped.
func testLog(t *testing.T) *slog.Logger {
	w := &tWriter{t: t}
	t.Cleanup(func() { w.done.Store(true) })
	level := slog.LevelWarn
	if testing.Verbose() {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type tWriter struct {
	t    *testing.T
	done atomic.Bool
}

func (w *tWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

// decode builds a request from its JSON form, as the AWS CLI sends it.
func decode[T any](t *testing.T, s string) *T {
	t.Helper()
	v := new(T)
	require.NoError(t, json.Unmarshal([]byte(s), v), s)
	return v
}

// freePort returns a TCP port free right now on loopback.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (b *bundle) trafficPolicy(body string) string {
	out, err := b.mail.CreateTrafficPolicy(b.ctx, decode[mm.CreateTrafficPolicyRequest](b.t, body))
	require.NoError(b.t, err)
	return *out.TrafficPolicyId
}

func (b *bundle) allowAll() string {
	return b.trafficPolicy(`{"TrafficPolicyName":"allow-all","DefaultAction":"ALLOW","PolicyStatements":[]}`)
}

func (b *bundle) relay(name string, s *sink) string {
	out, err := b.mail.CreateRelay(b.ctx, decode[mm.CreateRelayRequest](b.t, fmt.Sprintf(
		`{"RelayName":%q,"ServerName":"127.0.0.1","ServerPort":%d,"Authentication":{"NoAuthentication":{}}}`, name, s.port)))
	require.NoError(b.t, err)
	return *out.RelayId
}

func (b *bundle) archive(name string) string {
	out, err := b.mail.CreateArchive(b.ctx, decode[mm.CreateArchiveRequest](b.t, fmt.Sprintf(`{"ArchiveName":%q}`, name)))
	require.NoError(b.t, err)
	return *out.ArchiveId
}

func (b *bundle) ruleSet(name, rules string) string {
	out, err := b.mail.CreateRuleSet(b.ctx, decode[mm.CreateRuleSetRequest](b.t, fmt.Sprintf(`{"RuleSetName":%q,"Rules":%s}`, name, rules)))
	require.NoError(b.t, err)
	return *out.RuleSetId
}

// ingressPoint creates an ingress point and waits until it listens; it
// returns its id and address.
func (b *bundle) ingressPoint(name, typ, ruleSet, policy, extra string) (string, string) {
	port := freePort(b.t)
	body := fmt.Sprintf(`{"IngressPointName":%q,"Type":%q,"RuleSetId":%q,"TrafficPolicyId":%q,
		"Tags":[{"Key":"tidings:port","Value":"%d"}]%s}`, name, typ, ruleSet, policy, port, extra)
	out, err := b.mail.CreateIngressPoint(b.ctx, decode[mm.CreateIngressPointRequest](b.t, body))
	require.NoError(b.t, err)
	id := *out.IngressPointId
	b.gw.Kick()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	eventually(b.t, 10*time.Second, func() bool { return b.gw.Addr(id) == addr }, "ingress point %s listening", id)
	return id, addr
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: "+msg, args...)
		}
		<-tick.C
	}
}

// waitDone waits for a message to be DONE in the queue.
func (b *bundle) waitState(id string, st gateway.MessageState) *gateway.Details {
	b.t.Helper()
	var d *gateway.Details
	eventually(b.t, 30*time.Second, func() bool {
		var err error
		d, err = b.gw.Queue().Show(context.Background(), id)
		require.NoError(b.t, err)
		return d.State == st
	}, "message %s %s", id, st)
	return d
}

// send sends one message with a Go SMTP client and returns the queue id
// from the "250" reply.
func send(t *testing.T, addr, from string, to []string, msg string) (string, error) {
	t.Helper()
	c, err := smtp.Dial(addr)
	require.NoError(t, err)
	defer c.Close()
	if err := c.Hello("client.sender.test"); err != nil {
		return "", err
	}
	if err := c.Mail(from, nil); err != nil {
		return "", err
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			return "", err
		}
	}
	w, err := c.Data()
	if err != nil {
		return "", err
	}
	if _, err := io.WriteString(w, msg); err != nil {
		return "", err
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		return "", err
	}
	_ = c.Quit()
	// "Ok: queued as <id>"
	_, id, ok := strings.Cut(resp.StatusText, "queued as ")
	require.True(t, ok, "reply %q names no queue id", resp.StatusText)
	return strings.TrimSpace(id), nil
}

// smtpCode returns the reply code of a go-smtp client error, 0 if none.
func smtpCode(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// sink is a go-smtp server that records what it receives; rcpt, when set,
// decides each RCPT.
type sink struct {
	addr string
	port int
	srv  *smtp.Server

	mu   sync.Mutex
	msgs []sunk
	rcpt func(to string) error
}

type sunk struct {
	from string
	to   []string
	data []byte
}

func startSink(t *testing.T) *sink {
	t.Helper()
	s := &sink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }))
	srv.Domain = "sink.test"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s.addr, s.port, s.srv = l.Addr().String(), l.Addr().(*net.TCPAddr).Port, srv
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *sink) setRcpt(f func(to string) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rcpt = f
}

func (s *sink) messages() []sunk {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sunk(nil), s.msgs...)
}

func (s *sink) wait(t *testing.T, n int) []sunk {
	t.Helper()
	eventually(t, 30*time.Second, func() bool { return len(s.messages()) >= n }, "%d message(s) at the sink", n)
	return s.messages()
}

type sinkSession struct {
	s    *sink
	from string
	to   []string
}

func (ss *sinkSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *sinkSession) Logout() error { return nil }
func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	return nil
}

func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	f := ss.s.rcpt
	ss.s.mu.Unlock()
	if f != nil {
		if err := f(to); err != nil {
			return err
		}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, sunk{from: ss.from, to: ss.to, data: b})
	ss.s.mu.Unlock()
	return nil
}

// redirectDialer sends connections to port 25 (MX delivery) to a test server.
type redirectDialer struct {
	port25 string
	d      net.Dialer
}

func (r redirectDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if strings.HasSuffix(addr, ":25") {
		addr = r.port25
	}
	return r.d.DialContext(ctx, network, addr)
}

// startDNS serves A and MX records over UDP on loopback; every other name
// is NXDOMAIN (so SPF and DMARC lookups end at once).
func startDNS(t *testing.T, a, mx map[string]string) string {
	t.Helper()
	return startDNSWithTXT(t, a, mx, nil)
}

// startDNSWithTXT is startDNS that serves TXT records too (DKIM and ARC
// keys), split into strings of at most 255 octets.
func startDNSWithTXT(t *testing.T, a, mx, txt map[string]string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		q := r.Question[0]
		name := strings.TrimSuffix(strings.ToLower(q.Name), ".")
		hdr := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: 60, Rrtype: q.Qtype}
		switch {
		case q.Qtype == dns.TypeA && a[name] != "":
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: net.ParseIP(a[name]).To4()})
		case q.Qtype == dns.TypeMX && mx[name] != "":
			m.Answer = append(m.Answer, &dns.MX{Hdr: hdr, Preference: 10, Mx: mx[name] + "."})
		case q.Qtype == dns.TypeTXT && txt[name] != "":
			var parts []string
			for v := txt[name]; v != ""; {
				n := min(len(v), 255)
				parts, v = append(parts, v[:n]), v[n:]
			}
			m.Answer = append(m.Answer, &dns.TXT{Hdr: hdr, Txt: parts})
		case a[name] != "" || mx[name] != "" || txt[name] != "":
			// The name exists, without records of this type.
		default:
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

// fakeArchiver records what Archive actions hand it. It stands in for
// internal/archive, which is built separately.
type fakeArchiver struct {
	mu    sync.Mutex
	calls []archived
	// hook, when set, runs after a message is recorded.
	hook func(ctx context.Context)
}

type archived struct {
	account, archive string
	env              message.Envelope
	auth             message.Auth
	raw              []byte
}

func (f *fakeArchiver) Store(ctx context.Context, accountID, archiveID string, env *message.Envelope, auth message.Auth, raw io.Reader) (string, error) {
	b, err := io.ReadAll(raw)
	if err != nil {
		return "", err
	}
	f.mu.Lock()
	f.calls = append(f.calls, archived{accountID, archiveID, *env, auth, b})
	n := len(f.calls)
	hook := f.hook
	f.mu.Unlock()
	if hook != nil {
		hook(ctx)
	}
	return fmt.Sprintf("msg-%d", n), nil
}

func (f *fakeArchiver) archived() []archived {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]archived(nil), f.calls...)
}

// headerValues returns the values of every field called name (any case),
// unfolded, in a raw message.
func headerValues(raw []byte, name string) []string {
	hdr, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	var out []string
	lines := strings.Split(string(hdr), "\r\n")
	for i := 0; i < len(lines); i++ {
		n, v, ok := strings.Cut(lines[i], ":")
		if !ok || lines[i][0] == ' ' || lines[i][0] == '\t' {
			continue
		}
		for i+1 < len(lines) && len(lines[i+1]) > 0 && (lines[i+1][0] == ' ' || lines[i+1][0] == '\t') {
			i++
			v += lines[i]
		}
		if strings.EqualFold(strings.TrimSpace(n), name) {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

// fakePublisher records PublishToSns publications, deduplicated by key as
// the events service does.
type fakePublisher struct {
	mu   sync.Mutex
	keys map[string]bool
	msgs []published
}

type published struct {
	account, topic, key string
	body                []byte
}

func (p *fakePublisher) Publish(_ context.Context, account, topic, key string, body []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.keys == nil {
		p.keys = map[string]bool{}
	}
	if p.keys[key] {
		return nil
	}
	p.keys[key] = true
	p.msgs = append(p.msgs, published{account, topic, key, body})
	return nil
}

func (p *fakePublisher) published() []published {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]published(nil), p.msgs...)
}

// fakeSender records Send actions; refuse, when set, answers a refusal.
type fakeSender struct {
	mu     sync.Mutex
	refuse error
	sent   []sentRaw
}

type sentRaw struct {
	account string
	rcpts   []string
	raw     []byte
}

func (f *fakeSender) SendRaw(_ context.Context, account string, rcpts []string, raw []byte) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuse != nil {
		return "", f.refuse
	}
	f.sent = append(f.sent, sentRaw{account, rcpts, raw})
	return fmt.Sprintf("msg-%d", len(f.sent)), nil
}

func (f *fakeSender) all() []sentRaw {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sentRaw(nil), f.sent...)
}

// fakeFeedback takes return paths whose local part starts with
// "bounce-0100"; it records the reports handed to it.
type fakeFeedback struct {
	mu      sync.Mutex
	reports []sentRaw
}

func (f *fakeFeedback) IsReturnPath(_ context.Context, rcpt string) (bool, error) {
	return strings.HasPrefix(rcpt, "bounce-0100"), nil
}

func (f *fakeFeedback) HandleReport(_ context.Context, rcpt string, raw io.Reader) (string, error) {
	b, err := io.ReadAll(raw)
	if err != nil {
		return "", err
	}
	if !bytes.Contains(b, []byte("multipart/report")) {
		return "", fault.Invalidf("not a report")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reports = append(f.reports, sentRaw{rcpts: []string{rcpt}, raw: b})
	return "bounce recorded", nil
}

// ComplaintAbout takes feedback reports whose original's Message-ID is
// <0100...@...>, for any account but "000000000000".
func (f *fakeFeedback) ComplaintAbout(_ context.Context, accountID string, raw io.Reader) (string, error) {
	b, err := io.ReadAll(raw)
	if err != nil {
		return "", err
	}
	_, rest, ok := bytes.Cut(b, []byte("Message-ID: <0100"))
	if !ok || accountID == "000000000000" || !bytes.Contains(b, []byte("message/feedback-report")) {
		return "", nil
	}
	id, _, _ := bytes.Cut(rest, []byte("@"))
	return "0100" + string(id), nil
}

func (f *fakeFeedback) HandleComplaint(ctx context.Context, accountID string, raw io.Reader) (string, error) {
	b, err := io.ReadAll(raw)
	if err != nil {
		return "", err
	}
	id, err := f.ComplaintAbout(ctx, accountID, bytes.NewReader(b))
	if err != nil || id == "" {
		return "", fault.Invalidf("no complaint")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reports = append(f.reports, sentRaw{raw: b})
	return "complaint about " + id, nil
}

func (f *fakeFeedback) all() []sentRaw {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sentRaw(nil), f.reports...)
}
