// Package sending is the outbound email of Tidings, the SES side:
// identities (domains with DKIM keys, addresses confirmed by a link),
// configuration sets and their event destinations, the account's settings
// and suppression list, and the send pipeline — validate, compose, sign,
// spool durably, deliver through internal/delivery (or the built-in mailbox
// simulator) and publish SES events.
//
// It knows nothing of HTTP or wire formats beyond the generated model types
// of SES v2, which its methods take and return (as mailmanager does).
package sending

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/tidings/tidings/internal/delivery"
	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/groupcommit"
	"github.com/tidings/tidings/internal/iam"
	"github.com/tidings/tidings/internal/jobs"
	"github.com/tidings/tidings/internal/lease"
)

// TemplateRenderer renders SES email templates (the templates package
// implements it). A render error becomes a RenderingFailure event and a
// MessageRejected answer, as SES does.
type TemplateRenderer interface {
	// Render renders the stored template templateName of the account.
	// fault.NotFound when there is no such template.
	Render(ctx context.Context, accountID, templateName, templateDataJSON string) (subject, html, text string, err error)
	// RenderInline renders template content given in the request.
	RenderInline(ctx context.Context, subject, html, text, templateDataJSON string) (string, string, string, error)
}

// Publisher durably publishes one event (SES event JSON) to the Tidings
// topic named by an SNS topic ARN or EventBridge bus ARN (the events
// package implements it).
type Publisher interface {
	Publish(ctx context.Context, accountID, destinationARN string, message []byte) error
}

// Blobs is the part of the blob store the spool needs.
type Blobs interface {
	Put(ctx context.Context, key string, r io.Reader) error
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	Delete(ctx context.Context, key string) error
}

// Deliverer delivers over SMTP; *delivery.Deliverer satisfies it.
type Deliverer interface {
	Deliver(ctx context.Context, dest delivery.Destination, env delivery.Envelope, body func() (io.ReadCloser, error)) delivery.Result
}

// TXTResolver looks up TXT and MX records (identity verification);
// mailauth.Resolver satisfies it. Errors that mean "no such record" are
// *net.DNSError with IsNotFound.
type TXTResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// Config configures a Service.
type Config struct {
	Store     Store
	Blobs     Blobs
	Deliverer Deliverer
	Resolver  TXTResolver
	Region    string
	// Hostname names this node: Message-ID right-hand sides, the sender
	// of confirmation mail, the reporting MTA of events.
	Hostname string
	// BaseURL is Tidings' HTTP address (http://host:port), for the links
	// of address confirmations.
	BaseURL string
	// LinkKey signs confirmation links (32 random bytes, kept).
	LinkKey []byte
	// TrackingURL, when set, is the public address of Tidings' HTTP
	// listener in open and click tracking URLs (default BaseURL);
	// TrackingKey signs their tokens (32 random bytes, kept and shared by
	// every node).
	TrackingURL string
	TrackingKey []byte
	// Smarthost, when set (host:port), receives every outbound message
	// instead of the recipients' MX hosts; SmarthostUser/Password
	// authenticate when set.
	Smarthost                        string
	SmarthostUser, SmarthostPassword string
	// DestinationLimits, when set, gives the most connections and
	// messages a second (0: the deliverer's default, no limit) for a
	// recipient domain, or for the smarthost when domain is "*".
	DestinationLimits func(domain string) (conns int, rate float64)
	Retry             delivery.RetryPolicy
	// SenderID is the last field of the Feedback-ID header (the sender
	// id Gmail's Postmaster Tools groups by); default "tidings".
	SenderID string
	// Default quotas of accounts: MaxSendRate per second and Max24HourSend.
	MaxSendRate   float64
	Max24HourSend float64
	// Renderer and Publisher are optional: nil turns templates off
	// (sends with a template are refused saying so) and event publishing
	// off (events are logged only).
	Renderer  TemplateRenderer
	Publisher Publisher
	// Archiver archives the mail of configuration sets with
	// ArchivingOptions (nil: such sets cannot be made).
	Archiver Archiver
	// NodeID names this node in the leases of the messages it delivers
	// (see Recover); config.Node.
	NodeID string
	Now    func() time.Time
	Logger *slog.Logger
}

// Service is the outbound email service.
type Service struct {
	cfg     Config
	st      Store
	log     *slog.Logger
	now     func() time.Time
	limit   *rateLimiter
	commits *groupcommit.Group[commitReq]
	// queue is the job queue Register was given; dispatch delivers
	// accepted messages in process while it works (dispatch.go), under
	// leases that name leaseOwner; held counts the bytes of spooled
	// copies its waiting messages hold.
	queue      *jobs.Queue
	dispatch   *lease.Dispatcher[*handover]
	leaseOwner string
	held       atomic.Int64
	heldMax    int64
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Blobs == nil {
		return nil, errors.New("sending: Store and Blobs are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "localhost"
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.SenderID == "" {
		cfg.SenderID = "tidings"
	}
	if cfg.MaxSendRate <= 0 {
		cfg.MaxSendRate = 5000
	}
	if cfg.Max24HourSend <= 0 {
		cfg.Max24HourSend = 10_000_000
	}
	if len(cfg.LinkKey) == 0 {
		cfg.LinkKey = make([]byte, 32)
		_, _ = rand.Read(cfg.LinkKey)
	}
	if len(cfg.TrackingKey) == 0 {
		cfg.TrackingKey = make([]byte, 32)
		_, _ = rand.Read(cfg.TrackingKey)
	}
	s := &Service{cfg: cfg, st: cfg.Store, log: cfg.Logger, now: cfg.Now, limit: newRateLimiter(), heldMax: heldMax}
	s.commits = groupcommit.New(0, s.commitBatch)
	return s, nil
}

// account returns the caller's account id.
func account(ctx context.Context) (string, error) {
	p, ok := iam.PrincipalFrom(ctx)
	if !ok || p.AccountID == "" {
		return "", fault.AccessDeniedf("the request has no account")
	}
	return p.AccountID, nil
}

func callerName(ctx context.Context) string {
	p, _ := iam.PrincipalFrom(ctx)
	if p.ARN == "" {
		return "root"
	}
	return p.ARN
}

func (s *Service) identityARN(acct, name string) string {
	return fmt.Sprintf("arn:aws:ses:%s:%s:identity/%s", s.cfg.Region, acct, name)
}

// newMessageID returns an SES-shaped message id: 0100, the accept time in
// milliseconds (hex), a random UUID and a suffix, so ids sort by time.
func newMessageID(t time.Time) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return fmt.Sprintf("0100%012x-%s-%s-%s-%s-%s-000000", t.UnixMilli(), h[:8], h[8:12], h[12:16], h[16:20], h[20:])
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var z T
	if p == nil {
		return z
	}
	return *p
}
