package delivery

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// testServer is an in-process go-smtp server on 127.0.0.1:0 that records
// what it receives and counts connections, sessions and transactions.
type testServer struct {
	t    testing.TB
	srv  *smtp.Server
	addr string
	port int

	// Behaviour, set before the first connection.
	mail     func(from string, opts *smtp.MailOptions) error
	rcpt     func(to string) error
	data     func(from string, to []string, body []byte) error
	authUser string // when set, MAIL requires AUTH with authUser/authPass
	authPass string
	discard  bool        // keep no messages (benchmarks)
	implicit *tls.Config // TLS from the first byte

	mu         sync.Mutex
	conns      int // connections accepted
	open       int // connections not yet closed
	maxOpen    int
	inTx       int // sessions between MAIL and the end of the transaction
	maxInTx    int
	resets     int
	msgs       []received
	openConns  []net.Conn
	connClosed chan struct{} // receives on every connection close
}

type received struct {
	from string
	to   []string
	body []byte
	opts smtp.MailOptions
	tls  bool
	user string // authenticated user
	helo string
}

// serverOpt configures the test server before it starts.
type serverOpt func(*testServer)

func withTLS(cert tls.Certificate) serverOpt {
	return func(ts *testServer) { ts.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}} }
}

// implicitTLS makes the server speak TLS from the first byte (RFC 8314)
// and offer no STARTTLS.
func implicitTLS(cert tls.Certificate) serverOpt {
	return func(ts *testServer) { ts.implicit = &tls.Config{Certificates: []tls.Certificate{cert}} }
}

// with changes the go-smtp server's settings.
func with(f func(*smtp.Server)) serverOpt { return func(ts *testServer) { f(ts.srv) } }

func startServer(t testing.TB, opts ...serverOpt) *testServer {
	t.Helper()
	ts := &testServer{t: t, connClosed: make(chan struct{}, 1000)}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		_, isTLS := c.TLSConnectionState()
		return &testSession{ts: ts, tls: isTLS, helo: c.Hostname()}, nil
	}))
	srv.Domain = "sink.test"
	srv.AllowInsecureAuth = false
	srv.ErrorLog = log.New(io.Discard, "", 0)
	ts.srv = srv
	for _, o := range opts {
		o(ts)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = l.Addr().String()
	ts.port = l.Addr().(*net.TCPAddr).Port
	if ts.implicit != nil {
		l = tls.NewListener(l, ts.implicit)
	}
	go srv.Serve(&countingListener{Listener: l, ts: ts})
	t.Cleanup(func() { srv.Close() })
	return ts
}

func (ts *testServer) relay() Destination { return Relay("127.0.0.1", ts.port) }

func (ts *testServer) stats() (conns, maxOpen, maxInTx, resets int) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.conns, ts.maxOpen, ts.maxInTx, ts.resets
}

func (ts *testServer) messages() []received {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]received(nil), ts.msgs...)
}

// dropAll closes every open connection from the server side, as a server
// does when its idle timeout strikes.
func (ts *testServer) dropAll() {
	ts.mu.Lock()
	conns := append([]net.Conn(nil), ts.openConns...)
	ts.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

type countingListener struct {
	net.Listener
	ts *testServer
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	ts := l.ts
	ts.mu.Lock()
	ts.conns++
	ts.open++
	ts.maxOpen = max(ts.maxOpen, ts.open)
	cc := &countingConn{Conn: c, ts: ts}
	ts.openConns = append(ts.openConns, cc)
	ts.mu.Unlock()
	return cc, nil
}

type countingConn struct {
	net.Conn
	ts   *testServer
	once sync.Once
}

func (c *countingConn) Close() error {
	c.once.Do(func() {
		ts := c.ts
		ts.mu.Lock()
		ts.open--
		for i, x := range ts.openConns {
			if x == c {
				ts.openConns = append(ts.openConns[:i], ts.openConns[i+1:]...)
				break
			}
		}
		ts.mu.Unlock()
		ts.connClosed <- struct{}{}
	})
	return c.Conn.Close()
}

type testSession struct {
	ts   *testServer
	tls  bool
	helo string
	user string
	from string
	opts smtp.MailOptions
	to   []string
	inTx bool
}

func (s *testSession) AuthMechanisms() []string {
	if s.ts.authUser == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *testSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != s.ts.authUser || password != s.ts.authPass {
			return smtp.ErrAuthFailed
		}
		s.user = username
		return nil
	}), nil
}

func (s *testSession) Mail(from string, opts *smtp.MailOptions) error {
	if s.ts.authUser != "" && s.user == "" {
		return smtp.ErrAuthRequired
	}
	if s.ts.mail != nil {
		if err := s.ts.mail(from, opts); err != nil {
			return err
		}
	}
	s.from, s.to = from, nil
	if opts != nil {
		s.opts = *opts
	}
	s.ts.mu.Lock()
	if !s.inTx {
		s.inTx = true
		s.ts.inTx++
		s.ts.maxInTx = max(s.ts.maxInTx, s.ts.inTx)
	}
	s.ts.mu.Unlock()
	return nil
}

func (s *testSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.ts.rcpt != nil {
		if err := s.ts.rcpt(to); err != nil {
			return err
		}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *testSession) Data(r io.Reader) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.ts.data != nil {
		if err := s.ts.data(s.from, s.to, body); err != nil {
			return err
		}
	}
	if s.ts.discard {
		return nil
	}
	s.ts.mu.Lock()
	s.ts.msgs = append(s.ts.msgs, received{from: s.from, to: s.to, body: body, opts: s.opts, tls: s.tls, user: s.user, helo: s.helo})
	s.ts.mu.Unlock()
	return nil
}

func (s *testSession) endTx() {
	s.ts.mu.Lock()
	if s.inTx {
		s.inTx = false
		s.ts.inTx--
	}
	s.ts.mu.Unlock()
}

func (s *testSession) Reset() {
	s.endTx()
	s.ts.mu.Lock()
	s.ts.resets++
	s.ts.mu.Unlock()
	s.from, s.to = "", nil
}

func (s *testSession) Logout() error {
	s.endTx()
	return nil
}

// smtpErr is a reply the test server gives.
func smtpErr(code int, enh smtp.EnhancedCode, msg string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: msg}
}

// selfSigned makes a certificate for localhost and 127.0.0.1 and a pool that
// trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost", "mx.example.test"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// fakeResolver serves MX and address records from maps; a name in neither
// does not exist.
type fakeResolver struct {
	mu      sync.Mutex
	mx      map[string][]*net.MX
	ip      map[string][]net.IP
	mxErr   error
	lookups int
}

func (r *fakeResolver) LookupMX(_ context.Context, name string) ([]*net.MX, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lookups++
	if r.mxErr != nil {
		return nil, r.mxErr
	}
	if mx, ok := r.mx[name]; ok {
		return mx, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (r *fakeResolver) LookupIP(_ context.Context, _, host string) ([]net.IP, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ips, ok := r.ip[host]; ok {
		return ips, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// mapDialer connects fake addresses to test servers; others are refused.
type mapDialer struct {
	mu     sync.Mutex
	routes map[string]string
	dials  []string
}

func (d *mapDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.dials = append(d.dials, addr)
	real, ok := d.routes[addr]
	d.mu.Unlock()
	if !ok {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused")}
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, real)
}

func (d *mapDialer) dialed() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.dials...)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func msgBody(s string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(s)), nil }
}
