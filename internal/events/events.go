// Package events is where every Tidings event goes out to users' systems:
// topics of an account, their webhook subscriptions, the event log of each
// topic, and the signed, retried deliveries of each event to each
// subscriber.
//
// Publish is the one entry for the other domains (sending, SMS, the
// gateway's PublishToSns): it names a topic by an SNS topic ARN or an
// EventBridge bus ARN and commits the event with one delivery job per
// current subscriber in a single transaction before it returns. Topics
// with no subscriber keep their events in the log all the same, where
// users read them (GET /v1/topics/{name}/events).
//
// Deliveries are HTTP POSTs signed the way Stripe signs its webhooks (see
// Sign): a receiver checks the signature with the subscription's secret and
// the timestamp against replays. A delivery that does not get a 2xx answer
// is retried with exponential backoff and jitter until the give-up time,
// then put on the topic's dead-letter list, from where it can be redriven.
package events

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/jobs"
)

// Limits.
const (
	// MaxMessageBytes bounds a published message (SNS's limit).
	MaxMessageBytes = 256 << 10
	// MaxSubscriptions bounds the subscriptions of one topic.
	MaxSubscriptions = 100
	// MaxTopics bounds the topics of one account.
	MaxTopics = 1000
)

// Config tunes a Service. The zero value is usable but for Store.
type Config struct {
	// Region is the region of the ARNs the API shows (default us-east-1).
	Region string
	// Retry is the delivery schedule of webhooks (zero fields: defaults).
	Retry Backoff
	// GiveUp is how long a failing delivery is retried before it goes to
	// the dead letters (default 24h; TIDINGS_WEBHOOK_GIVE_UP).
	GiveUp time.Duration
	// Timeout bounds one delivery attempt, connection to answer (default 10s).
	Timeout time.Duration
	// Retention is how long the event log keeps events (default 7 days);
	// KeepPerTopic how many of the newest it keeps at most per topic
	// (default 1000). Events with a pending delivery are kept regardless.
	Retention    time.Duration
	KeepPerTopic int
	// Workers is how many deliveries run at once (default 20), on a
	// queue of their own.
	Workers int
	// PurgeInterval is how often the log is trimmed (default 1h).
	PurgeInterval time.Duration
	// Observer is told of publishes and deliveries, for metrics (may be nil).
	Observer Observer
	// HTTPClient, when set, replaces the delivery client (tests). Its
	// CheckRedirect should refuse redirects to other hosts, as the
	// default's does.
	HTTPClient *http.Client
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Observer is told what the service does, for metrics.
type Observer interface {
	Published(subscribers int)
	// Attempted reports a delivery attempt's outcome: "delivered",
	// "failed" (to be retried) or "dead_lettered".
	Attempted(outcome string, took time.Duration)
}

type nopObserver struct{}

func (nopObserver) Published(int)                   {}
func (nopObserver) Attempted(string, time.Duration) {}

// Service is the events service. It is safe for concurrent use.
type Service struct {
	store Store
	cfg   Config
	http  *http.Client
	log   *slog.Logger
	obs   Observer
}

// New returns the service over store.
func New(store Store, cfg Config, log *slog.Logger) (*Service, error) {
	if store == nil {
		return nil, errors.New("events: nil store")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.GiveUp <= 0 {
		cfg.GiveUp = 24 * time.Hour
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 7 * 24 * time.Hour
	}
	if cfg.KeepPerTopic <= 0 {
		cfg.KeepPerTopic = 1000
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 20
	}
	if cfg.PurgeInterval <= 0 {
		cfg.PurgeInterval = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Retry = cfg.Retry.withDefaults()
	s := &Service{store: store, cfg: cfg, log: log, obs: cfg.Observer}
	if s.obs == nil {
		s.obs = nopObserver{}
	}
	s.http = cfg.HTTPClient
	if s.http == nil {
		s.http = NewHTTPClient(cfg.Timeout)
	}
	return s, nil
}

// Register registers the service's job workers and its periodic purge of
// the event log on q.
func (s *Service) Register(q *jobs.Queue) error {
	q.AddQueue(Queue, s.cfg.Workers)
	jobs.Register(q, &deliverWorker{s: s})
	jobs.Register(q, &invokeWorker{s: s})
	jobs.Register(q, &publishWorker{s: s})
	jobs.Register(q, &purgeWorker{s: s})
	return q.AddPeriodic(KindPurge, river.PeriodicInterval(s.cfg.PurgeInterval),
		func() (river.JobArgs, *river.InsertOpts) { return PurgeArgs{}, nil }, false)
}

// ---------------------------------------------------------------------------
// Topics and subscriptions.

// CreateTopic creates a topic; fault.Conflict if it exists.
func (s *Service) CreateTopic(ctx context.Context, accountID, name string) (*Topic, error) {
	if err := ValidateTopicName(name); err != nil {
		return nil, err
	}
	ts, err := s.store.ListTopics(ctx, accountID)
	if err != nil {
		return nil, err
	}
	if len(ts) >= MaxTopics {
		return nil, fault.QuotaExceededf("an account has at most %d topics", MaxTopics)
	}
	t := &Topic{AccountID: accountID, Name: name, CreatedAt: s.cfg.Now()}
	if err := s.store.CreateTopic(ctx, t); err != nil {
		return nil, err
	}
	return t, nil
}

// GetTopic returns a topic of the account.
func (s *Service) GetTopic(ctx context.Context, accountID, name string) (*Topic, error) {
	if err := ValidateTopicName(name); err != nil {
		return nil, err
	}
	return s.store.GetTopic(ctx, accountID, name)
}

// ListTopics returns the account's topics by name.
func (s *Service) ListTopics(ctx context.Context, accountID string) ([]Topic, error) {
	return s.store.ListTopics(ctx, accountID)
}

// DeleteTopic deletes a topic with its subscriptions, log and deliveries.
func (s *Service) DeleteTopic(ctx context.Context, accountID, name string) error {
	if err := ValidateTopicName(name); err != nil {
		return err
	}
	return s.store.DeleteTopic(ctx, accountID, name)
}

// SubscribeInput is a new subscription.
type SubscribeInput struct {
	Topic string
	URL   string
	// Secret signs deliveries; "" generates one (returned once, in the
	// result).
	Secret string
	// Filter is an optional filter policy (see ParseFilter).
	Filter string
}

// Subscribe adds a webhook to a topic and returns it with its secret.
func (s *Service) Subscribe(ctx context.Context, accountID string, in SubscribeInput) (*Subscription, error) {
	if err := ValidateTopicName(in.Topic); err != nil {
		return nil, err
	}
	if err := ValidateWebhookURL(in.URL); err != nil {
		return nil, err
	}
	if in.Secret == "" {
		in.Secret = NewSecret()
	} else if err := validateSecret(in.Secret); err != nil {
		return nil, err
	}
	if in.Filter != "" {
		if _, err := ParseFilter(in.Filter); err != nil {
			return nil, err
		}
	}
	subs, err := s.store.ListSubscriptions(ctx, accountID, in.Topic)
	if err != nil {
		return nil, err
	}
	if len(subs) >= MaxSubscriptions {
		return nil, fault.QuotaExceededf("a topic has at most %d subscriptions", MaxSubscriptions)
	}
	sub := &Subscription{
		AccountID: accountID, ID: "sub-" + randomHex(12), Topic: in.Topic, URL: in.URL,
		Secret: in.Secret, Filter: in.Filter, CreatedAt: s.cfg.Now(),
	}
	if err := s.store.CreateSubscription(ctx, sub); err != nil {
		return nil, err
	}
	return sub, nil
}

// SubscriptionInfo is a subscription as listed: without its secret, with
// the counts of its deliveries.
type SubscriptionInfo struct {
	Subscription
	Deliveries    map[DeliveryState]int64
	LastAttemptAt time.Time
}

// Subscriptions lists a topic's subscriptions with their delivery counts.
// The secrets are left out.
func (s *Service) Subscriptions(ctx context.Context, accountID, topic string) ([]SubscriptionInfo, error) {
	if _, err := s.GetTopic(ctx, accountID, topic); err != nil {
		return nil, err
	}
	subs, err := s.store.ListSubscriptions(ctx, accountID, topic)
	if err != nil {
		return nil, err
	}
	stats, err := s.store.SubscriptionStats(ctx, accountID, topic)
	if err != nil {
		return nil, err
	}
	byID := map[string]DeliveryStats{}
	for _, st := range stats {
		byID[st.SubscriptionID] = st
	}
	out := make([]SubscriptionInfo, 0, len(subs))
	for _, sub := range subs {
		sub.Secret = ""
		st := byID[sub.ID]
		counts := map[DeliveryState]int64{Pending: 0, Delivered: 0, Dead: 0}
		for k, v := range st.Counts {
			counts[k] = v
		}
		out = append(out, SubscriptionInfo{Subscription: sub, Deliveries: counts, LastAttemptAt: st.LastAttemptAt})
	}
	return out, nil
}

// Unsubscribe removes a subscription of a topic.
func (s *Service) Unsubscribe(ctx context.Context, accountID, topic, id string) error {
	if err := ValidateTopicName(topic); err != nil {
		return err
	}
	return s.store.DeleteSubscription(ctx, accountID, topic, id)
}

// Events returns a page of a topic's event log, newest first: at most
// limit events (default 50, at most 1000) older than the event before.
func (s *Service) Events(ctx context.Context, accountID, topic, before string, limit int) ([]Event, error) {
	if _, err := s.GetTopic(ctx, accountID, topic); err != nil {
		return nil, err
	}
	limit, err := pageLimit(limit, 50)
	if err != nil {
		return nil, err
	}
	return s.store.ListEvents(ctx, accountID, topic, before, limit)
}

// EventDetails is an event with its deliveries.
type EventDetails struct {
	Event
	Deliveries []Delivery
}

// GetEvent returns an event of a topic with the state of its deliveries.
func (s *Service) GetEvent(ctx context.Context, accountID, topic, id string) (*EventDetails, error) {
	ev, err := s.store.GetEvent(ctx, accountID, id)
	if err != nil {
		return nil, err
	}
	if ev.Topic != topic {
		return nil, &fault.Error{Kind: fault.NotFound, Message: fmt.Sprintf("topic %s has no event %s", topic, id), ResourceType: "event", ResourceID: id}
	}
	ds, err := s.store.ListDeliveries(ctx, DeliveryFilter{AccountID: accountID, Topic: topic, EventID: id})
	if err != nil {
		return nil, err
	}
	return &EventDetails{Event: *ev, Deliveries: ds}, nil
}

// DeadLetters returns the dead deliveries of a topic, oldest event first,
// at most limit (default 100, at most 1000) after the given position.
func (s *Service) DeadLetters(ctx context.Context, accountID, topic, afterEvent, afterSub string, limit int) ([]Delivery, error) {
	if _, err := s.GetTopic(ctx, accountID, topic); err != nil {
		return nil, err
	}
	limit, err := pageLimit(limit, 100)
	if err != nil {
		return nil, err
	}
	return s.store.ListDeliveries(ctx, DeliveryFilter{AccountID: accountID, Topic: topic, State: Dead,
		AfterEvent: afterEvent, AfterSubscription: afterSub, Limit: limit})
}

// Redrive queues again the dead deliveries of a topic — all of them, or
// those of one event and/or one subscription — with a fresh give-up time,
// and returns how many.
func (s *Service) Redrive(ctx context.Context, accountID, topic, eventID, subID string) (int, error) {
	if _, err := s.GetTopic(ctx, accountID, topic); err != nil {
		return 0, err
	}
	total := 0
	for {
		n := 0
		err := s.store.InTx(ctx, func(tx Tx) error {
			ds, err := tx.ListDeliveries(ctx, DeliveryFilter{AccountID: accountID, Topic: topic, State: Dead,
				EventID: eventID, SubscriptionID: subID, Limit: 500})
			if err != nil {
				return err
			}
			now := s.cfg.Now()
			for i := range ds {
				d := ds[i]
				d.State, d.NextAttemptAt, d.DeadlineAt, d.UpdatedAt = Pending, now, now.Add(s.cfg.GiveUp), now
				ok, err := tx.UpdateDelivery(ctx, &d, Dead, d.Attempts)
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
				if err := tx.Enqueue(ctx, DeliverArgs{AccountID: accountID, EventID: d.EventID, SubscriptionID: d.SubscriptionID, Attempt: d.Attempts}); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

// ---------------------------------------------------------------------------

// pageLimit is limit, def when 0, at most 1000.
func pageLimit(limit, def int) (int, error) {
	switch {
	case limit < 0:
		return 0, fault.Invalidf("limit must be positive")
	case limit == 0:
		return def, nil
	}
	return min(limit, 1000), nil
}

// NewSecret returns a new random subscription secret.
func NewSecret() string { return "whsec_" + randomHex(24) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newEventID returns a UUID version 7 (RFC 9562 5.7): 48 bits of unix
// milliseconds, then random bits, so that IDs sort by time as text.
func newEventID(now time.Time) string {
	var b [16]byte
	_, _ = rand.Read(b[6:])
	msec := uint64(now.UnixMilli())
	for i := 0; i < 6; i++ {
		b[i] = byte(msec >> (40 - 8*i))
	}
	b[6] = b[6]&0x0f | 0x70 // version 7
	b[8] = b[8]&0x3f | 0x80 // variant 10
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Recover queues again the jobs of this service that a crashed process
// was running, which River would rescue only an hour later. Call it on a
// single node (SQLite) before the queue starts, when every job marked
// running is the dead process's. A job run twice is harmless: deliveries
// are guarded by their attempt count and publishes by their key (a
// receiver may see a delivery twice, as after any crash).
func (s *Service) Recover(ctx context.Context, q *jobs.Queue) (int, error) {
	n := 0
	params := river.NewJobListParams().Kinds(KindDeliver, KindInvoke, KindPublish).
		States(rivertype.JobStateRunning).First(500)
	for {
		rows, err := q.List(ctx, params)
		if err != nil || len(rows) == 0 {
			return n, err
		}
		for _, row := range rows {
			var args river.JobArgs
			switch row.Kind {
			case KindDeliver:
				var a DeliverArgs
				err = json.Unmarshal(row.EncodedArgs, &a)
				a.NotBefore = time.Time{}
				args = a
			case KindInvoke:
				var a InvokeArgs
				err = json.Unmarshal(row.EncodedArgs, &a)
				a.NotBefore = time.Time{}
				args = a
			case KindPublish:
				var a PublishArgs
				err = json.Unmarshal(row.EncodedArgs, &a)
				if a.DedupKey == "" {
					a.DedupKey = "job:" + strconv.FormatInt(row.ID, 10) // the key the first run used
				}
				args = a
			}
			if err != nil || args == nil {
				continue
			}
			if err := q.Insert(ctx, args, nil); err != nil {
				return n, err
			}
			n++
		}
		params = params.After(river.JobListCursorFromJob(rows[len(rows)-1]))
	}
}
