// Package sms is End User Messaging SMS and voice (the AWS
// pinpoint-sms-voice-v2 API): phone numbers, sender IDs and pools,
// configuration sets and their event destinations, opt-out lists and
// keywords, spend limits, and sending text, voice and media messages
// through carrier providers, with their receipts turned into event records
// and the messages people send back routed to two-way channels.
//
// It speaks in the shapes of the model (internal/model/smsvoice) and knows
// nothing of HTTP: the wire layer validates what the model says, calls one
// method here and encodes the answer. Every mutation runs in one
// Store.InTx; a send commits its message and its job together before the
// MessageId is returned.
package sms

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/groupcommit"
	"github.com/tidings/tidings/internal/iam"
	"github.com/tidings/tidings/internal/jobs"
	"github.com/tidings/tidings/internal/lease"
	sv "github.com/tidings/tidings/internal/model/smsvoice"
)

// Publisher publishes one event record (JSON) durably to a Tidings topic
// named by an SNS topic ARN of the account; the events package implements
// it. Configuration-set event destinations (SnsDestination.TopicArn) and
// two-way channels (TwoWayChannelArn) publish through it.
type Publisher interface {
	Publish(ctx context.Context, accountID, destinationARN string, message []byte) error
}

// Synthesizer renders text or SSML to a WAV file (espeak-ng in
// production).
type Synthesizer interface {
	Synthesize(ctx context.Context, text string, ssml bool, voice string) ([]byte, error)
}

// Config tunes a Service. Zero fields take the defaults documented on each.
type Config struct {
	// Region appears in every ARN (default "us-east-1").
	Region string
	// Simulator carries every message from a SIMULATOR number and every
	// message to a destination simulator number. Required.
	Simulator Provider
	// Carrier carries the other messages. Nil: the simulator carries them
	// too (it accepts and delivers them, keeping them in its outbox).
	Carrier Provider
	// Dedicated are numbers with a provider of their own (WhatsApp
	// business numbers): every message from one goes to its provider,
	// whatever Carrier is. Start adds each number to its account as an
	// ACTIVE phone number when it has none by that number.
	Dedicated []DedicatedNumber
	// Publisher publishes event records and two-way messages. Nil: they
	// are only logged.
	Publisher Publisher
	// Synthesizer renders voice messages. Nil: SendVoiceMessage fails.
	Synthesizer Synthesizer
	// Registrations tells whether an origination identity is tied to a
	// number registration (internal/registrations); such a number sends
	// only once its registration is COMPLETE. Nil: no check.
	Registrations Registrations
	// UnknownAfter is how long a message may wait for a final receipt
	// before it is reported TEXT_UNKNOWN (default 72 hours, as AWS).
	UnknownAfter time.Duration
	// Limits overrides DefaultLimits, quota by quota.
	Limits map[sv.AccountLimitName]int64
	// Now is the clock (default time.Now).
	Now func() time.Time
	// NodeID marks the leases of this node's processes (config.Node:
	// stable across restarts, unique among nodes), so that Recover can
	// tell them.
	NodeID string
}

// Service implements the End User Messaging SMS and voice operations.
type Service struct {
	store   Store
	cfg     Config
	log     *slog.Logger
	commits *groupcommit.Group[pendingSend]
	// receipts commits the receipts that arrive together in one
	// transaction (a carrier's bind hands over several at once).
	receipts *groupcommit.Group[*pendingReceipt]
	// fresh hands accepted messages to their send jobs.
	fresh fresh
	// queue is the job queue Register was given; dispatch sends accepted
	// messages in process while it works.
	queue    *jobs.Queue
	dispatch *lease.Dispatcher[*messageRec]
	// leaseOwner is what the dispatcher's leases name (its Owner).
	leaseOwner string
}

// New returns a Service. Call Start before serving sends so that the
// providers deliver their receipts.
func New(store Store, cfg Config, log *slog.Logger) (*Service, error) {
	if store == nil {
		return nil, errors.New("sms: nil store")
	}
	if cfg.Simulator == nil {
		return nil, errors.New("sms: no simulator provider")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.UnknownAfter <= 0 {
		cfg.UnknownAfter = 72 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{store: store, cfg: cfg, log: log}
	s.commits = groupcommit.New(0, s.commitSends)
	s.receipts = groupcommit.New(0, s.commitReceipts)
	return s, nil
}

// Start adds the dedicated numbers to their accounts and starts the
// providers with the service as their sink.
func (s *Service) Start(ctx context.Context) error {
	for _, d := range s.cfg.Dedicated {
		if err := s.provision(ctx, d); err != nil {
			return fmt.Errorf("sms: number %s: %w", d.Number, err)
		}
	}
	if err := s.cfg.Simulator.Start(ctx, s); err != nil {
		return fmt.Errorf("sms: simulator: %w", err)
	}
	if s.cfg.Carrier != nil {
		if err := s.cfg.Carrier.Start(ctx, s); err != nil {
			return fmt.Errorf("sms: carrier: %w", err)
		}
	}
	for _, p := range s.dedicatedProviders() {
		if err := p.Start(ctx, s); err != nil {
			return fmt.Errorf("sms: provider of dedicated numbers: %w", err)
		}
	}
	return nil
}

// Close stops sending in process (the messages waiting go on as jobs)
// and stops the providers.
func (s *Service) Close() error {
	var errs []error
	if s.dispatch != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		errs = append(errs, s.dispatch.Stop(ctx))
		cancel()
	}
	for _, p := range s.dedicatedProviders() {
		errs = append(errs, p.Close())
	}
	if s.cfg.Carrier != nil {
		errs = append(errs, s.cfg.Carrier.Close())
	}
	errs = append(errs, s.cfg.Simulator.Close())
	return errors.Join(errs...)
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Millisecond) }

func account(ctx context.Context) (string, error) {
	p, ok := iam.PrincipalFrom(ctx)
	if !ok || p.AccountID == "" {
		return "", fault.AccessDeniedf("no caller identity in the request")
	}
	return p.AccountID, nil
}

func (s *Service) arn(accountID, resource string) string {
	return fmt.Sprintf("arn:aws:sms-voice:%s:%s:%s", s.cfg.Region, accountID, resource)
}

// parseARN splits an ARN of this service and account into its resource
// type and the rest ("phone-number", "phone-…"); ok is false for anything
// else.
func (s *Service) parseARN(accountID, arn string) (typ, rest string, ok bool) {
	p := strings.SplitN(arn, ":", 6)
	if len(p) != 6 || p[0] != "arn" || p[2] != "sms-voice" || p[4] != accountID {
		return "", "", false
	}
	typ, rest, ok = strings.Cut(p[5], "/")
	return typ, rest, ok && rest != ""
}

func newID(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func ptr[T any](v T) *T { return &v }

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func boolv(p *bool) bool { return p != nil && *p }

// Errors with the members End User Messaging's exceptions carry.

func notFound(rt sv.ResourceType, id, format string, args ...any) error {
	return &fault.Error{Kind: fault.NotFound, Message: fmt.Sprintf(format, args...), ResourceType: string(rt), ResourceID: id}
}

func conflict(reason sv.ConflictExceptionReason, rt sv.ResourceType, id, format string, args ...any) error {
	return &fault.Error{Kind: fault.Conflict, Message: fmt.Sprintf(format, args...), Reason: string(reason), ResourceType: string(rt), ResourceID: id}
}

func invalid(reason sv.ValidationExceptionReason, format string, args ...any) error {
	return &fault.Error{Kind: fault.Invalid, Message: fmt.Sprintf(format, args...), Reason: string(reason)}
}

// restype turns the store's fault (whose ResourceType is a Kind) into one
// naming the model's resource type and the identifier the caller gave.
func restype(err error, rt sv.ResourceType, id string) error {
	var fe *fault.Error
	if errors.As(err, &fe) && (fe.Kind == fault.NotFound || fe.Kind == fault.Conflict) {
		c := *fe
		c.ResourceType, c.ResourceID = string(rt), id
		if fe.Kind == fault.NotFound {
			c.Message = fmt.Sprintf("%s %s does not exist", rt, id)
		} else if c.Reason == "" {
			c.Reason = string(sv.ConflictExceptionReasonResourceAlreadyExists)
		}
		return &c
	}
	return err
}

// Pagination. A NextToken is base64url of a scope and the last key given.
func encodeToken(scope, last string) *string {
	return ptr(base64.RawURLEncoding.EncodeToString([]byte(scope + "\x00" + last)))
}

func decodeToken(scope string, token *string) (string, error) {
	if token == nil || *token == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(*token)
	if err != nil {
		return "", invalid(sv.ValidationExceptionReasonInvalidNextToken, "Invalid NextToken")
	}
	sc, last, ok := strings.Cut(string(b), "\x00")
	if !ok || sc != scope {
		return "", invalid(sv.ValidationExceptionReasonInvalidNextToken, "Invalid NextToken")
	}
	return last, nil
}

func pageSize(max *int64, def int) int {
	if max == nil || *max <= 0 {
		return def
	}
	return int(*max)
}

// Tags.

const maxTags = 200

func tagMap(tags []sv.Tag) (map[string]string, error) {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		k := str(t.Key)
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return nil, invalid(sv.ValidationExceptionReasonInvalidParameter, "Tag key %q uses the reserved prefix aws:", k)
		}
		m[k] = str(t.Value)
	}
	if len(m) > maxTags {
		return nil, fault.QuotaExceededf("A resource can have at most %d tags", maxTags)
	}
	return m, nil
}

func tagList(m map[string]string) []sv.Tag {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]sv.Tag, 0, len(keys))
	for _, k := range keys {
		out = append(out, sv.Tag{Key: ptr(k), Value: ptr(m[k])})
	}
	return out
}

// errStop ends eachResource early without an error.
var errStop = errors.New("stop")

// eachResource calls fn on every resource of a kind of the account, in ID
// order, until fn returns an error (errStop: stop without one).
func eachResource(ctx context.Context, tx Tx, accountID string, kind Kind, fn func(r *Resource) error) error {
	after := ""
	for {
		page, err := tx.List(ctx, accountID, kind, after, 200)
		if err != nil {
			return err
		}
		for _, r := range page {
			if err := fn(r); err != nil {
				if errors.Is(err, errStop) {
					return nil
				}
				return err
			}
		}
		if len(page) < 200 {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

func decode(r *Resource, v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("sms: %s %s: corrupt record: %w", r.Kind, r.ID, err)
	}
	return nil
}

func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // records are plain data
	}
	return b
}

// Registrations is what sending needs of number registrations.
type Registrations interface {
	// ResourceRegistration returns the registration an origination
	// identity (id or ARN) is associated with, and its status.
	ResourceRegistration(ctx context.Context, accountID, resourceID string) (registrationID, status string, found bool, err error)
}
