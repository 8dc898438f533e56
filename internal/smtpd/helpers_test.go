package smtpd

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/message"
)

// testBundle is a running server and what it reports.
type testBundle struct {
	srv   *Server
	addr  string
	spool *memSpool
	obs   *recObserver
}

// setup starts a server on 127.0.0.1:0 for an endpoint adjusted by mod.
func setup(t *testing.T, mod func(*Endpoint)) *testBundle {
	t.Helper()
	b := &testBundle{spool: newMemSpool(), obs: &recObserver{}}
	ep := Endpoint{
		AccountID:      "acct",
		IngressPointID: "inp-1",
		Hostname:       "mx.test.example",
		Spool:          b.spool,
		Observer:       b.obs,
	}
	if mod != nil {
		mod(&ep)
	}
	srv, err := New(ep)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	b.srv, b.addr = srv, ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		require.ErrorIs(t, <-served, ErrServerClosed)
	})
	return b
}

// spooled is one message the memSpool took.
type spooled struct {
	env  *message.Envelope
	body []byte // only when small
	size int64
	sum  [32]byte
}

// memSpool is a Spooler that keeps small messages in memory and only
// counts and hashes big ones.
type memSpool struct {
	mu   sync.Mutex
	msgs []spooled
	fail error // returned after reading the body, when set
	n    int
	got  chan struct{}
}

func newMemSpool() *memSpool { return &memSpool{got: make(chan struct{}, 100)} }

func (m *memSpool) Spool(ctx context.Context, env *message.Envelope, body io.Reader) (string, error) {
	h := sha256.New()
	var small strings.Builder
	w := io.MultiWriter(h, &limitedBuilder{&small, 1 << 20})
	n, err := io.Copy(w, body)
	if err != nil {
		return "", err // a failed read: do not commit
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return "", m.fail
	}
	m.n++
	s := spooled{env: env, size: n}
	copy(s.sum[:], h.Sum(nil))
	if n <= 1<<20 {
		s.body = []byte(small.String())
	}
	m.msgs = append(m.msgs, s)
	m.got <- struct{}{}
	return "Q" + strconv.Itoa(m.n), nil
}

func (m *memSpool) setFail(err error) {
	m.mu.Lock()
	m.fail = err
	m.mu.Unlock()
}

func (m *memSpool) all() []spooled {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]spooled(nil), m.msgs...)
}

type limitedBuilder struct {
	b   *strings.Builder
	max int
}

func (l *limitedBuilder) Write(p []byte) (int, error) {
	if l.b.Len()+len(p) <= l.max {
		l.b.Write(p)
	}
	return len(p), nil
}

// recObserver records what the server reports.
type recObserver struct {
	mu         sync.Mutex
	accepted   []*message.Envelope
	rejected   []Reason
	authFailed []string
}

func (o *recObserver) Accepted(env *message.Envelope) {
	o.mu.Lock()
	o.accepted = append(o.accepted, env)
	o.mu.Unlock()
}

func (o *recObserver) Rejected(c *message.Conn, reason Reason, r Reject) {
	o.mu.Lock()
	o.rejected = append(o.rejected, reason)
	o.mu.Unlock()
}

func (o *recObserver) AuthFailed(c *message.Conn, user string) {
	o.mu.Lock()
	o.authFailed = append(o.authFailed, user)
	o.mu.Unlock()
}

func (o *recObserver) reasons() []Reason {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Reason(nil), o.rejected...)
}

// rawClient speaks SMTP byte by byte, to send what real clients would not.
type rawClient struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

// dial connects and reads the greeting, which must have code greet and
// contain each of want.
func dial(t *testing.T, addr string, greet int, want ...string) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	c := &rawClient{t: t, nc: nc, r: bufio.NewReader(nc)}
	c.expect(greet, want...)
	return c
}

// send writes s as it is, in one write.
func (c *rawClient) send(s string) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := io.WriteString(c.nc, s)
	require.NoError(c.t, err)
}

// reply reads one (possibly multi-line) reply and returns its code and
// lines without the code.
func (c *rawClient) reply() (int, []string) {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var lines []string
	for {
		l, err := c.r.ReadString('\n')
		require.NoError(c.t, err, "reading a reply (got %q so far)", lines)
		require.True(c.t, strings.HasSuffix(l, "\r\n"), "reply line %q does not end in CRLF", l)
		l = strings.TrimSuffix(l, "\r\n")
		require.GreaterOrEqual(c.t, len(l), 4, "short reply line %q", l)
		code, err := strconv.Atoi(l[:3])
		require.NoError(c.t, err, "reply line %q", l)
		lines = append(lines, l[4:])
		if l[3] == ' ' {
			return code, lines
		}
		require.Equal(c.t, byte('-'), l[3], "reply line %q", l)
	}
}

// expect reads a reply, checks its code and that its last line contains
// each of want, and returns the last line.
func (c *rawClient) expect(code int, want ...string) string {
	c.t.Helper()
	got, lines := c.reply()
	last := lines[len(lines)-1]
	require.Equal(c.t, code, got, "reply %q", lines)
	for _, w := range want {
		require.Contains(c.t, last, w)
	}
	return last
}

// cmd sends one command line and expects a reply with code.
func (c *rawClient) cmd(line string, code int, want ...string) string {
	c.t.Helper()
	c.send(line + "\r\n")
	return c.expect(code, want...)
}

// expectClosed checks that the server closed the connection (nothing more
// is read, then EOF), and closes it too.
func (c *rawClient) expectClosed() {
	c.t.Helper()
	defer c.nc.Close()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	rest, err := io.ReadAll(c.r)
	if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset by peer") {
		require.NoError(c.t, err)
	}
	require.Empty(c.t, string(rest), "data after the last reply")
}

// startTLS runs STARTTLS and the handshake.
func (c *rawClient) startTLS(cfg *tls.Config) {
	c.t.Helper()
	c.cmd("STARTTLS", 220)
	tc := tls.Client(c.nc, cfg)
	c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	require.NoError(c.t, tc.Handshake())
	c.nc = tc
	c.r = bufio.NewReader(tc)
}

// ehlo sends EHLO and returns the extension lines.
func (c *rawClient) ehlo(name string) []string {
	c.t.Helper()
	c.send("EHLO " + name + "\r\n")
	code, lines := c.reply()
	require.Equal(c.t, 250, code, "EHLO reply %q", lines)
	return lines[1:]
}

// begin greets and opens a transaction to one recipient, up to "354".
func (c *rawClient) begin() {
	c.t.Helper()
	c.ehlo("client.example")
	c.cmd("MAIL FROM:<sender@client.example>", 250)
	c.cmd("RCPT TO:<rcpt@corp.example>", 250)
	c.cmd("DATA", 354)
}

// testPKI is a CA, a server certificate for 127.0.0.1 and client
// certificates from that CA and from another.
type testPKI struct {
	caPool        *x509.CertPool
	server        tls.Certificate
	client        tls.Certificate
	strangeClient tls.Certificate
}

var pki = sync.OnceValue(func() *testPKI {
	ca, caKey := newCert(nil, nil, "Test CA", true, 0)
	other, otherKey := newCert(nil, nil, "Other CA", true, 0)
	p := &testPKI{caPool: x509.NewCertPool()}
	p.caPool.AddCert(ca)
	p.server = leafCert(ca, caKey, "mx.test.example", x509.ExtKeyUsageServerAuth)
	p.client = leafCert(ca, caKey, "client.example", x509.ExtKeyUsageClientAuth)
	p.strangeClient = leafCert(other, otherKey, "stranger.example", x509.ExtKeyUsageClientAuth)
	return p
})

var serial int64

func newCert(parent *x509.Certificate, parentKey *ecdsa.PrivateKey, cn string, isCA bool, eku x509.ExtKeyUsage) (*x509.Certificate, *ecdsa.PrivateKey) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	serial++
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		BasicConstraintsValid: true,
		IsCA:                  isCA,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	if !isCA {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{eku}
		tmpl.DNSNames = []string{cn}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return cert, key
}

func leafCert(ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, eku x509.ExtKeyUsage) tls.Certificate {
	c, k := newCert(ca, caKey, cn, false, eku)
	return tls.Certificate{Certificate: [][]byte{c.Raw}, PrivateKey: k, Leaf: c}
}

// serverTLS is the TLS configuration of a test endpoint.
func serverTLS() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{pki().server}}
}

// clientTLS trusts the test CA.
func clientTLS() *tls.Config {
	return &tls.Config{RootCAs: pki().caPool, ServerName: "mx.test.example"}
}

// policyFunc adapts functions to Policy; nil functions allow.
type policyFunc struct {
	connect func(*message.Conn) *Reject
	rcpt    func(*message.Conn, string) *Reject
	data    func(*message.Envelope) *Reject
}

func (p policyFunc) Connect(_ context.Context, c *message.Conn) *Reject {
	if p.connect == nil {
		return nil
	}
	return p.connect(c)
}

func (p policyFunc) Recipient(_ context.Context, c *message.Conn, rcpt string) *Reject {
	if p.rcpt == nil {
		return nil
	}
	return p.rcpt(c, rcpt)
}

func (p policyFunc) Data(_ context.Context, env *message.Envelope) *Reject {
	if p.data == nil {
		return nil
	}
	return p.data(env)
}

var deny = &Reject{550, [3]int{5, 7, 1}, "Rejected by policy"}
