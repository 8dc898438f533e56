package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// gwSink is the downstream mail server of the gateway tests: an SMTP
// server on loopback that keeps every message it is given. It stands for
// the organisation's mail system (Workspace, Microsoft 365, Exchange).
type gwSink struct {
	Addr string
	Port string

	mu   sync.Mutex
	msgs []sunkMessage
}

type sunkMessage struct {
	From string
	To   []string
	Data string
	// AuthUser is the user name the client authenticated as ("" for none).
	AuthUser string
}

// sinkAuth makes a sink require SMTP AUTH (PLAIN) with these credentials,
// offered only after STARTTLS with tls.
type sinkAuth struct {
	user, pass string
	tls        *tls.Config
}

func startGatewaySink(t testing.TB) *gwSink { return startGwSink(t, nil, false) }

// startLMTPSink starts a sink that speaks LMTP (RFC 2033): the mail store
// (Dovecot, Cyrus) a mailbox's LMTP server stands for.
func startLMTPSink(t testing.TB) *gwSink { return startGwSink(t, nil, true) }

// startGatewaySinkAuth starts a sink that takes mail only from a client
// that authenticated as user/pass over TLS, with a certificate for
// 127.0.0.1 signed by a CA of the test's own; caFile is that CA in PEM,
// for the gateway's TIDINGS_RELAY_CA.
func startGatewaySinkAuth(t testing.TB, user, pass string) (s *gwSink, caFile string) {
	t.Helper()
	cfg, caPEM := testCA(t)
	caFile = filepath.Join(t.TempDir(), "relay-ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return startGwSink(t, &sinkAuth{user: user, pass: pass, tls: cfg}, false), caFile
}

func startGwSink(t testing.TB, auth *sinkAuth, lmtp bool) *gwSink {
	t.Helper()
	s := &gwSink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &gwSinkSession{s: s, auth: auth}, nil }))
	if auth != nil {
		srv.TLSConfig = auth.tls
	}
	// LMTP: go-smtp answers after DATA once per recipient, with Data's
	// result.
	srv.LMTP = lmtp
	srv.Domain = "sink.test"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.MaxMessageBytes = 64 << 20
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = l.Addr().String()
	_, s.Port, _ = net.SplitHostPort(s.Addr)
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return s
}

// Messages returns a copy of what the sink received so far.
func (s *gwSink) Messages() []sunkMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sunkMessage(nil), s.msgs...)
}

// Wait waits up to d for at least n messages and returns them all.
func (s *gwSink) Wait(t testing.TB, n int, d time.Duration) []sunkMessage {
	t.Helper()
	end := time.Now().Add(d)
	for {
		m := s.Messages()
		if len(m) >= n {
			return m
		}
		if time.Now().After(end) {
			t.Fatalf("the sink has %d message(s) after %s, want %d", len(m), d, n)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Containing returns the messages whose data contains token.
func (s *gwSink) Containing(token string) []sunkMessage {
	var out []sunkMessage
	for _, m := range s.Messages() {
		if strings.Contains(m.Data, token) {
			out = append(out, m)
		}
	}
	return out
}

type gwSinkSession struct {
	s        *gwSink
	auth     *sinkAuth
	authUser string
	from     string
	to       []string
}

func (ss *gwSinkSession) AuthMechanisms() []string {
	if ss.auth == nil {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *gwSinkSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != ss.auth.user || pass != ss.auth.pass {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		ss.authUser = user
		return nil
	}), nil
}

func (ss *gwSinkSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *gwSinkSession) Logout() error { return nil }
func (ss *gwSinkSession) Mail(from string, _ *smtp.MailOptions) error {
	if ss.auth != nil && ss.authUser == "" {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}
func (ss *gwSinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}
func (ss *gwSinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, sunkMessage{From: ss.from, To: append([]string(nil), ss.to...), Data: string(b), AuthUser: ss.authUser})
	ss.s.mu.Unlock()
	return nil
}

// testCA makes a CA and a server certificate for 127.0.0.1 signed by it;
// it returns the server's TLS configuration and the CA in PEM.
func testCA(t testing.TB) (*tls.Config, []byte) {
	t.Helper()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	now := time.Now()
	caTpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e relay CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTpl, caTpl, &caKey.PublicKey, caKey)
	must(err)
	ca, err := x509.ParseCertificate(caDER)
	must(err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca, &key.PublicKey, caKey)
	must(err)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
}
