package smtpd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidings/tidings/internal/message"
)

// TLS policies of an ingress point, as the Mail Manager model names them.
const (
	TLSOptional = "OPTIONAL" // STARTTLS offered, not required
	TLSRequired = "REQUIRED" // nothing but EHLO/HELO/STARTTLS/NOOP/RSET/QUIT before TLS
	TLSFIPS     = "FIPS"     // REQUIRED, with TLS 1.2+ and FIPS-approved cipher suites only
)

// Defaults for the zero values of [Endpoint].
const (
	DefaultMaxMessageBytes  = 10 << 20
	DefaultMaxRecipients    = 1000
	DefaultMaxConnections   = 1000
	DefaultCommandTimeout   = 5 * time.Minute  // RFC 5321 4.5.3.2.7
	DefaultDataTimeout      = 10 * time.Minute // RFC 5321 4.5.3.2.6
	DefaultAuthFailureDelay = time.Second
)

// Endpoint is the configuration of one ingress point's SMTP listener.
type Endpoint struct {
	AccountID      string
	IngressPointID string

	Addr     string // host:port for ListenAndServe
	Hostname string // name in the greeting, the EHLO reply and Received

	// TLSConfig holds the certificate offered by STARTTLS; nil offers no
	// STARTTLS. It is cloned; the server sets what TLSPolicy and
	// RequireClientCert need.
	TLSConfig *tls.Config
	// TLSPolicy is TLSOptional (the default for ""), TLSRequired or TLSFIPS.
	TLSPolicy string
	// ImplicitTLS makes the server handshake TLS as soon as a client
	// connects, before the greeting (RFC 8314 3.3, "submissions" on port
	// 465), instead of offering STARTTLS. It needs TLSConfig.
	ImplicitTLS bool

	// Auth, when set, makes this an AUTH ingress point: AUTH PLAIN and
	// LOGIN are offered inside TLS only and required before MAIL. It
	// reports whether the credentials are good; an error is a temporary
	// failure (454). Failures are answered after AuthFailureDelay times the
	// number of failures in the session and reported to the Observer; the
	// third failure ends the session.
	Auth             func(ctx context.Context, user, pass string) (bool, error)
	AuthFailureDelay time.Duration
	// AuthThrottle remembers failures by client IP across sessions, so
	// that the delay keeps growing for an address that reconnects to guess
	// again; servers may share one. nil gives each Server its own.
	AuthThrottle *AuthThrottle

	// RequireClientCert, when set, makes this an MTLS ingress point: MAIL
	// needs a TLS session whose client certificate verifies against this
	// pool for client authentication (550 5.7.1 otherwise).
	RequireClientCert *x509.CertPool

	MaxMessageBytes int64 // advertised in SIZE and enforced (552 5.3.4)
	MaxRecipients   int   // per message (452 4.5.3)
	MaxConnections  int   // concurrent sessions; beyond, 421 4.7.0
	// CommandTimeout bounds every wait for the client, DataTimeout the
	// whole DATA phase.
	CommandTimeout time.Duration
	DataTimeout    time.Duration

	// AcceptedReply, when set, is the text of the "250 2.0.0" answer to a
	// message spooled with the given queue id; the default is
	// "Ok: queued as <id>".
	AcceptedReply func(queueID string) string

	Policy   Policy   // nil allows everything
	Spool    Spooler  // required
	Observer Observer // nil observes nothing
	Logger   *slog.Logger
}

// Policy is the ingress point's traffic policy. Each method is called at
// the earliest point its facts are final and returns nil to let the client
// go on, or the rejection to send.
type Policy interface {
	// Connect judges the connection (IP, TLS protocol). It is called once
	// the connection's facts cannot change any more: before the greeting
	// when STARTTLS is not offered, otherwise at the first MAIL (after
	// STARTTLS, if the client used it). Its verdict holds for every MAIL of
	// the session.
	Connect(ctx context.Context, c *message.Conn) *Reject
	// Recipient judges one RCPT TO address, exactly as the client wrote it
	// (source route removed, quoting canonical, nothing else interpreted).
	Recipient(ctx context.Context, c *message.Conn, rcpt string) *Reject
	// Data judges the whole envelope, at the DATA command before "354"
	// (env.Size is still 0).
	Data(ctx context.Context, env *message.Envelope) *Reject
}

// Reject is an SMTP rejection: a reply code, its enhanced status code (RFC
// 3463) and the text, e.g. 550 5.7.1 "Rejected by policy". It is also an
// error, so a Spooler can refuse a message with a code of its choosing.
type Reject struct {
	Code     int
	Enhanced [3]int
	Message  string
}

func (r *Reject) Error() string {
	return fmt.Sprintf("%d %d.%d.%d %s", r.Code, r.Enhanced[0], r.Enhanced[1], r.Enhanced[2], r.Message)
}

// Spooler makes a received message durable.
type Spooler interface {
	// Spool reads body to io.EOF, stores it durably (fsync'ed blob, committed
	// row and job) and only then returns the queue id; the server answers
	// "250 2.0.0 Ok: queued as <id>" only after Spool returned nil. When a
	// Read of body fails, Spool must not commit and must return an error.
	// An error that is a *Reject is sent as it is; any other error is
	// answered "451 4.3.0". body begins with the Received header this
	// server adds (RFC 5321 4.4).
	Spool(ctx context.Context, env *message.Envelope, body io.Reader) (queueID string, err error)
}

// Observer is told what happens, for logs, metrics and the audit trail. Its
// methods are called from the session's goroutine and must not block; the
// *message.Conn is valid only during the call.
type Observer interface {
	// Accepted is called once the message is spooled, before "250".
	Accepted(env *message.Envelope)
	// Rejected is called for every refused connection, command or message.
	Rejected(c *message.Conn, reason Reason, r Reject)
	// AuthFailed is called for every failed AUTH attempt.
	AuthFailed(c *message.Conn, user string)
}

// Reason says why something was rejected; a short stable label for metrics.
type Reason string

const (
	ReasonClosed          Reason = "closed"           // ingress point CLOSED
	ReasonConnectionLimit Reason = "connection_limit" // MaxConnections reached
	ReasonShutdown        Reason = "shutdown"
	ReasonPolicy          Reason = "policy" // the traffic policy said no
	ReasonTLSRequired     Reason = "tls_required"
	ReasonTLS             Reason = "tls" // handshake failed or not FIPS
	ReasonAuthRequired    Reason = "auth_required"
	ReasonClientCert      Reason = "client_cert"
	ReasonSize            Reason = "size"
	ReasonRecipientLimit  Reason = "recipient_limit"
	ReasonBareNewline     Reason = "bare_newline" // bare CR or LF in a command or the message
	ReasonSmuggling       Reason = "smuggling"    // a non-standard end-of-data sequence
	ReasonLineTooLong     Reason = "line_too_long"
	ReasonLoop            Reason = "loop" // too many Received headers
	ReasonAddress         Reason = "address"
	ReasonSpool           Reason = "spool"
	ReasonTimeout         Reason = "timeout"
	ReasonProtocol        Reason = "protocol" // too many errors, BDAT, HTTP on the SMTP port
)

// ErrServerClosed is returned by Serve after Close or Shutdown.
var ErrServerClosed = errors.New("smtpd: server closed")

// Server serves SMTP for one Endpoint. Its methods are safe for concurrent
// use.
type Server struct {
	ep      Endpoint
	tlsConf *tls.Config
	log     *slog.Logger
	obs     Observer

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc

	closed   atomic.Bool // the ingress point is CLOSED
	draining atomic.Bool // Shutdown or Close was called

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	sessions  map[*session]struct{}
	wg        sync.WaitGroup
}

// New checks ep, fills its defaults and returns a server for it.
func New(ep Endpoint) (*Server, error) {
	if ep.Spool == nil {
		return nil, errors.New("smtpd: Endpoint.Spool is required")
	}
	if ep.Hostname == "" {
		ep.Hostname = "localhost"
	}
	if !validHelo(ep.Hostname) {
		return nil, fmt.Errorf("smtpd: invalid Hostname %q", ep.Hostname)
	}
	switch ep.TLSPolicy {
	case "":
		ep.TLSPolicy = TLSOptional
	case TLSOptional, TLSRequired, TLSFIPS:
	default:
		return nil, fmt.Errorf("smtpd: unknown TLSPolicy %q", ep.TLSPolicy)
	}
	if ep.TLSConfig == nil {
		switch {
		case ep.TLSPolicy != TLSOptional:
			return nil, fmt.Errorf("smtpd: TLSPolicy %s needs a TLSConfig", ep.TLSPolicy)
		case ep.Auth != nil:
			return nil, errors.New("smtpd: Auth needs a TLSConfig (AUTH is offered only inside TLS)")
		case ep.RequireClientCert != nil:
			return nil, errors.New("smtpd: RequireClientCert needs a TLSConfig")
		case ep.ImplicitTLS:
			return nil, errors.New("smtpd: ImplicitTLS needs a TLSConfig")
		}
	}
	if ep.MaxMessageBytes < 0 || ep.MaxRecipients < 0 || ep.MaxConnections < 0 {
		return nil, errors.New("smtpd: negative limit")
	}
	if ep.MaxMessageBytes == 0 {
		ep.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if ep.MaxRecipients == 0 {
		ep.MaxRecipients = DefaultMaxRecipients
	}
	if ep.MaxConnections == 0 {
		ep.MaxConnections = DefaultMaxConnections
	}
	if ep.CommandTimeout <= 0 {
		ep.CommandTimeout = DefaultCommandTimeout
	}
	if ep.DataTimeout <= 0 {
		ep.DataTimeout = DefaultDataTimeout
	}
	if ep.AuthFailureDelay <= 0 {
		ep.AuthFailureDelay = DefaultAuthFailureDelay
	}
	if ep.AuthThrottle == nil {
		ep.AuthThrottle = NewAuthThrottle(0)
	}
	s := &Server{
		ep:        ep,
		tlsConf:   serverTLSConfig(&ep),
		log:       ep.Logger,
		obs:       ep.Observer,
		listeners: make(map[net.Listener]struct{}),
		sessions:  make(map[*session]struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("ingress_point", ep.IngressPointID)
	if s.obs == nil {
		s.obs = nopObserver{}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// SetClosed switches the ingress point between CLOSED (new connections get
// "421 4.3.2 Service not available") and ACTIVE. Sessions already open go on.
func (s *Server) SetClosed(closed bool) { s.closed.Store(closed) }

// Closed reports whether the ingress point is CLOSED.
func (s *Server) Closed() bool { return s.closed.Load() }

// ListenAndServe listens on the Endpoint's Addr and serves it.
func (s *Server) ListenAndServe() error {
	ln, err := net.Listen("tcp", s.ep.Addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Serve accepts connections on ln until Close or Shutdown, and then returns
// ErrServerClosed. ln is closed when Serve returns.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.draining.Load() {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()

	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.draining.Load() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// EMFILE, ECONNABORTED and the like: back off and retry, as
			// net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed; retrying", "err", err, "delay", delay)
			select {
			case <-time.After(delay):
			case <-s.ctx.Done():
				return ErrServerClosed
			}
			continue
		}
		delay = 0
		s.accept(nc)
	}
}

// accept starts a session for nc, or turns it away.
func (s *Server) accept(nc net.Conn) {
	s.mu.Lock()
	var r *Reject
	var reason Reason
	switch {
	case s.draining.Load():
		r, reason = &Reject{421, [3]int{4, 3, 2}, "Service shutting down"}, ReasonShutdown
	case s.closed.Load():
		r, reason = &Reject{421, [3]int{4, 3, 2}, "Service not available"}, ReasonClosed
	case len(s.sessions) >= s.ep.MaxConnections:
		r, reason = &Reject{421, [3]int{4, 7, 0}, "Too many connections, try again later"}, ReasonConnectionLimit
	}
	if r != nil {
		s.mu.Unlock()
		c := connFacts(nc)
		s.obs.Rejected(&c, reason, *r)
		// A fresh socket's send buffer is empty: this write does not block.
		nc.SetWriteDeadline(time.Now().Add(time.Second))
		io.WriteString(nc, fmt.Sprintf("%d %d.%d.%d %s %s\r\n", r.Code, r.Enhanced[0], r.Enhanced[1], r.Enhanced[2], s.ep.Hostname, r.Message))
		nc.Close()
		return
	}
	sess := newSession(s, nc)
	s.sessions[sess] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			delete(s.sessions, sess)
			s.mu.Unlock()
		}()
		sess.serve()
	}()
}

// Close stops accepting and closes every connection at once; Spool calls
// in progress see their context cancelled.
func (s *Server) Close() error {
	s.draining.Store(true)
	s.cancel()
	s.mu.Lock()
	for ln := range s.listeners {
		ln.Close()
	}
	for sess := range s.sessions {
		sess.raw.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// Shutdown stops accepting, lets sessions in DATA finish their message,
// and answers "421 4.3.2" to every other session (at once if it is waiting
// for a command, after its current command otherwise). It returns when all
// sessions are gone, or closes them and returns ctx.Err() when ctx ends
// first.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	s.mu.Lock()
	for ln := range s.listeners {
		ln.Close()
	}
	for sess := range s.sessions {
		sess.kick()
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}

// tlsRequired reports whether commands beyond EHLO/HELO/STARTTLS/NOOP/RSET/
// QUIT need TLS: TLSPolicy REQUIRED or FIPS, or an MTLS ingress point.
func (s *Server) tlsRequired() bool {
	return s.ep.TLSPolicy != TLSOptional || s.ep.RequireClientCert != nil
}

// acceptedText is the text of the "250" that accepts a message.
func (s *Server) acceptedText(qid string) string {
	if s.ep.AcceptedReply != nil {
		return s.ep.AcceptedReply(qid)
	}
	return "Ok: queued as " + qid
}

type nopObserver struct{}

func (nopObserver) Accepted(*message.Envelope)              {}
func (nopObserver) Rejected(*message.Conn, Reason, Reject)  {}
func (nopObserver) AuthFailed(c *message.Conn, user string) {}

// sanitizeReply makes text safe for a reply line: printable ASCII only, so
// that a policy message or queue id cannot inject CR/LF into the stream.
func sanitizeReply(text string) string {
	clean := true
	for i := 0; i < len(text); i++ {
		if text[i] < 0x20 || text[i] > 0x7e {
			clean = false
			break
		}
	}
	if clean {
		return text
	}
	var b strings.Builder
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		b.WriteByte(c)
	}
	return b.String()
}
