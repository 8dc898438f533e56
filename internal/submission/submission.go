// Package submission is the SMTP interface of the outbound email service,
// as Amazon SES has one: mail clients and applications submit messages
// over SMTP (RFC 6409) with STARTTLS (port 587 style, RFC 3207) or
// implicit TLS (port 465 style, RFC 8314), authenticate with AUTH PLAIN or
// LOGIN inside TLS using SMTP credentials derived from an access key
// (iam.SMTPPassword), and each message goes through the same pipeline as
// SendRawEmail: verified identities, sandbox, suppression list, sending
// quota and rate, DKIM, durable accept before "250 Ok <message-id>".
//
// The SMTP protocol, its smuggling defences and its limits are those of
// internal/smtpd; this package supplies the authentication, the spooler
// that hands a message to the send pipeline, and the translation of a
// refused send into SES's SMTP replies.
package submission

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/iam"
	"github.com/tidings/tidings/internal/message"
	"github.com/tidings/tidings/internal/sending"
	"github.com/tidings/tidings/internal/smtpd"
)

// KeyLookup finds an active access key: its secret and whose it is.
// Errors: fault.NotFound for an unknown key, fault.AccessDenied for an
// inactive one.
type KeyLookup interface {
	LookupAccessKey(ctx context.Context, accessKeyID string) (secret string, p iam.Principal, err error)
}

// Sender is the send pipeline (sending.Service.SendSMTP): it returns the
// SES message id once the message is durable, a *sending.Rejection or a
// fault for a refused message, any other error for a failure of its own.
type Sender interface {
	SendSMTP(ctx context.Context, mailFrom string, recipients []string, raw []byte) (messageID string, err error)
}

// Config configures the submission listeners.
type Config struct {
	// Addr is the host:port of the STARTTLS listener, ImplicitAddr that of
	// the implicit TLS listener; "" leaves one out.
	Addr, ImplicitAddr string
	Hostname           string      // in the greeting, EHLO reply and Received
	TLSConfig          *tls.Config // required
	// Region is the one SMTP passwords are derived for.
	Region string
	Keys   KeyLookup // required
	Sender Sender    // required
	// AuthFailureDelay is the wait before a "535", times the failures of
	// the client's address in the last 15 minutes (default 1 s, at most
	// 30 s in all).
	AuthFailureDelay time.Duration
	MaxMessageBytes  int64    // default sending.MaxMessageBytes
	MaxRecipients    int      // default sending.MaxRecipients
	Observer         Observer // nil observes nothing
	Logger           *slog.Logger
}

// Observer is told what the listeners do, for metrics. Its methods must
// not block.
type Observer interface {
	Accepted(bytes int64)
	// Rejected is called for every refused connection, command or
	// message, with smtpd's reason ("policy" for a send the pipeline
	// refused).
	Rejected(reason string)
	AuthFailed()
}

// Listener names, as logged.
const (
	nameSTARTTLS = "submission"  // RFC 6409 on a STARTTLS port
	nameImplicit = "submissions" // RFC 8314 7: the service name of port 465
)

// Server is the pair of submission listeners.
type Server struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	servers []*smtpd.Server
	addrs   map[string]string // listener name -> bound address
	wg      sync.WaitGroup
}

// New checks cfg and returns the server, not yet listening.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.TLSConfig == nil:
		return nil, errors.New("submission: a TLS configuration is required (AUTH is offered only inside TLS)")
	case cfg.Keys == nil || cfg.Sender == nil:
		return nil, errors.New("submission: Keys and Sender are required")
	case cfg.Region == "":
		return nil, errors.New("submission: the region is required (SMTP passwords are derived for it)")
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = sending.MaxMessageBytes
	}
	if cfg.MaxRecipients <= 0 {
		cfg.MaxRecipients = sending.MaxRecipients
	}
	s := &Server{cfg: cfg, log: cfg.Logger, addrs: map[string]string{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Start binds the listeners and serves them. An address that cannot be
// bound is an error naming it; nothing is left listening then.
func (s *Server) Start() error {
	throttle := smtpd.NewAuthThrottle(0) // one memory of failures for both ports
	type pending struct {
		srv *smtpd.Server
		ln  net.Listener
	}
	var started []pending
	fail := func(err error) error {
		for _, p := range started {
			p.ln.Close()
			p.srv.Close()
		}
		return err
	}
	for _, l := range []struct {
		name, addr string
		implicit   bool
	}{{nameSTARTTLS, s.cfg.Addr, false}, {nameImplicit, s.cfg.ImplicitAddr, true}} {
		if l.addr == "" {
			continue
		}
		srv, err := smtpd.New(smtpd.Endpoint{
			IngressPointID:   l.name,
			Addr:             l.addr,
			Hostname:         s.cfg.Hostname,
			TLSConfig:        s.cfg.TLSConfig,
			TLSPolicy:        smtpd.TLSRequired,
			ImplicitTLS:      l.implicit,
			Auth:             s.auth,
			AuthFailureDelay: s.cfg.AuthFailureDelay,
			AuthThrottle:     throttle,
			AcceptedReply:    func(id string) string { return "Ok " + id }, // as SES answers
			MaxMessageBytes:  s.cfg.MaxMessageBytes,
			MaxRecipients:    s.cfg.MaxRecipients,
			Spool:            spooler{s},
			Observer:         observer{s.log.With("listener", l.name), s.cfg.Observer},
			Logger:           s.log,
		})
		if err != nil {
			return fail(err)
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			return fail(fmt.Errorf("SMTP %s listener on %s: %w", l.name, l.addr, err))
		}
		started = append(started, pending{srv, ln})
		s.mu.Lock()
		s.addrs[l.name] = ln.Addr().String()
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range started {
		s.servers = append(s.servers, p.srv)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := p.srv.Serve(p.ln); err != nil && !errors.Is(err, smtpd.ErrServerClosed) {
				s.log.Error("SMTP submission listener stopped", "addr", p.ln.Addr().String(), "err", err)
			}
		}()
	}
	for name, addr := range s.addrs {
		s.log.Info("listening", "listener", name, "addr", addr)
	}
	return nil
}

// Addrs returns the bound addresses of the STARTTLS and the implicit TLS
// listeners ("" for one that is off or not started).
func (s *Server) Addrs() (startTLS, implicit string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addrs[nameSTARTTLS], s.addrs[nameImplicit]
}

// Shutdown stops accepting, lets messages in DATA finish and closes the
// other sessions; see smtpd.Server.Shutdown.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srvs := s.servers
	s.servers = nil
	s.mu.Unlock()
	errs := make([]error, len(srvs))
	var wg sync.WaitGroup
	for i, srv := range srvs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = srv.Shutdown(ctx)
		}()
	}
	wg.Wait()
	s.wg.Wait()
	return errors.Join(errs...)
}

// auth checks SMTP credentials: the user name is an access key id, the
// password the SES SMTP password of its secret for the configured region.
// An unknown or inactive key is a failed attempt like a wrong password.
func (s *Server) auth(ctx context.Context, user, pass string) (bool, error) {
	secret, _, err := s.cfg.Keys.LookupAccessKey(ctx, user)
	switch {
	case fault.Is(err, fault.NotFound), fault.Is(err, fault.AccessDenied):
		return false, nil
	case err != nil:
		return false, err
	}
	return iam.CheckSMTPPassword(pass, secret, s.cfg.Region), nil
}

// spooler hands each message to the send pipeline as the account of the
// key the session authenticated with.
type spooler struct{ s *Server }

func (sp spooler) Spool(ctx context.Context, env *message.Envelope, body io.Reader) (string, error) {
	// The pipeline takes the message whole (smtpd bounds it to
	// MaxMessageBytes); read it all before anything is decided, so that a
	// failed read commits nothing.
	raw, err := io.ReadAll(body)
	if err != nil {
		return "", err
	}
	// Looked up again: a key deleted or deactivated since AUTH sends
	// nothing more.
	_, p, err := sp.s.cfg.Keys.LookupAccessKey(ctx, env.Conn.AuthUser)
	switch {
	case fault.Is(err, fault.NotFound), fault.Is(err, fault.AccessDenied):
		return "", &smtpd.Reject{Code: 554, Enhanced: [3]int{5, 7, 1}, Message: "Access denied: the access key " + env.Conn.AuthUser + " is no longer active"}
	case err != nil:
		return "", err
	}
	id, err := sp.s.cfg.Sender.SendSMTP(iam.WithPrincipal(ctx, p), env.MailFrom, env.Recipients, raw)
	if err != nil {
		if r := Reply(err); r != nil {
			sp.s.log.Info("submitted message refused", "account", p.AccountID, "access_key", p.AccessKeyID,
				"from", env.MailFrom, "ip", env.Conn.RemoteIP, "reply", r.Error())
			return "", r
		}
		return "", err
	}
	return id, nil
}

// Reply is the SMTP answer SES gives to a refused send, or nil for an
// error of the server's own (answered 451 4.3.0 by smtpd).
func Reply(err error) *smtpd.Reject {
	var rej *sending.Rejection
	if errors.As(err, &rej) {
		switch {
		case rej.Reason == sending.ReasonMessageRejected && strings.HasPrefix(rej.Message, "Daily message quota exceeded"):
			return &smtpd.Reject{Code: 454, Enhanced: [3]int{4, 7, 0}, Message: "Throttling failure: " + rej.Message}
		case rej.Reason == sending.ReasonMessageRejected && strings.HasPrefix(rej.Message, "Message length is more than"):
			return &smtpd.Reject{Code: 554, Enhanced: [3]int{5, 3, 4}, Message: "Transaction failed: " + rej.Message}
		case rej.Reason == sending.ReasonMessageRejected, rej.Reason == sending.ReasonMailFromNotVerify:
			return &smtpd.Reject{Code: 554, Enhanced: [3]int{5, 7, 1}, Message: "Message rejected: " + rej.Message}
		case rej.Reason == sending.ReasonAccountPaused, rej.Reason == sending.ReasonConfigSetPaused:
			return &smtpd.Reject{Code: 554, Enhanced: [3]int{5, 7, 1}, Message: "Sending paused: " + rej.Message}
		default:
			return &smtpd.Reject{Code: 554, Enhanced: [3]int{5, 6, 0}, Message: "Transaction failed: " + rej.Message}
		}
	}
	var fe *fault.Error
	if !errors.As(err, &fe) {
		return nil
	}
	switch fe.Kind {
	case fault.Throttled, fault.QuotaExceeded:
		return &smtpd.Reject{Code: 454, Enhanced: [3]int{4, 7, 0}, Message: "Throttling failure: " + fe.Error()}
	case fault.NotFound:
		if fe.ResourceType == "configuration-set" {
			return &smtpd.Reject{Code: 554, Enhanced: [3]int{5, 7, 1}, Message: "Configuration set does not exist: " + fe.Error()}
		}
		return &smtpd.Reject{Code: 554, Enhanced: [3]int{5, 6, 0}, Message: "Transaction failed: " + fe.Error()}
	case fault.Invalid, fault.Conflict:
		return &smtpd.Reject{Code: 554, Enhanced: [3]int{5, 6, 0}, Message: "Transaction failed: " + fe.Error()}
	case fault.AccessDenied:
		return &smtpd.Reject{Code: 554, Enhanced: [3]int{5, 7, 1}, Message: "Access denied: " + fe.Error()}
	}
	return nil
}

// observer logs what the listeners refuse and forwards to the Observer.
// smtpd logs each failed AUTH attempt itself (address, user name,
// failures and delay).
type observer struct {
	log *slog.Logger
	o   Observer
}

func (o observer) Accepted(env *message.Envelope) {
	if o.o != nil {
		o.o.Accepted(env.Size)
	}
}

func (o observer) Rejected(c *message.Conn, reason smtpd.Reason, r smtpd.Reject) {
	if o.o != nil {
		o.o.Rejected(string(reason))
	}
	switch reason {
	case smtpd.ReasonPolicy, smtpd.ReasonAuthRequired, smtpd.ReasonTLSRequired:
		// Refused sends are logged by the spooler; the others are the
		// client's protocol errors.
		return
	}
	o.log.Debug("SMTP submission refused", "ip", c.RemoteIP, "reason", reason, "reply", r.Error())
}

func (o observer) AuthFailed(*message.Conn, string) {
	if o.o != nil {
		o.o.AuthFailed()
	}
}
