package e2e

import (
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

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
}

func startGatewaySink(t testing.TB) *gwSink {
	t.Helper()
	s := &gwSink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &gwSinkSession{s: s}, nil }))
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
	s    *gwSink
	from string
	to   []string
}

func (ss *gwSinkSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *gwSinkSession) Logout() error { return nil }
func (ss *gwSinkSession) Mail(from string, _ *smtp.MailOptions) error {
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
	ss.s.msgs = append(ss.s.msgs, sunkMessage{From: ss.from, To: append([]string(nil), ss.to...), Data: string(b)})
	ss.s.mu.Unlock()
	return nil
}
