package events

import (
	"context"
	"strconv"

	"github.com/riverqueue/river"

	"github.com/tidings/tidings/internal/fault"
)

// Publisher is the interface other domains publish events through;
// *Service implements it.
type Publisher interface {
	Publish(ctx context.Context, accountID, destinationARN string, message []byte) error
}

var _ Publisher = (*Service)(nil)

// Publish publishes message to the topic destinationARN names in
// accountID (see TopicFromARN for the ARN forms; a bare topic name works
// too). A topic named this way is created by its first event, so that
// destinations configured before anyone subscribed keep their events in
// the log. When Publish returns nil, the event and one delivery job per
// current subscriber (whose filter matches) are committed, in one
// transaction; a crash after that may repeat a delivery, never lose one.
//
// Errors: fault.Invalid for a malformed ARN or a message over
// MaxMessageBytes, fault.AccessDenied for another account's ARN,
// fault.Unavailable when the database is busy (retry later).
//
// Call it outside any database transaction of your own: on SQLite the
// writer is one connection, and a transaction of yours would hold it.
func (s *Service) Publish(ctx context.Context, accountID, destinationARN string, message []byte) error {
	_, err := s.PublishEvent(ctx, PublishInput{AccountID: accountID, Destination: destinationARN, Message: message})
	return err
}

// PublishInput is a message to publish with PublishEvent.
type PublishInput struct {
	AccountID   string
	Destination string // a topic ARN or name, as for Publish
	Message     []byte
	// DedupKey, when set, makes the publish idempotent: a second publish to
	// the same topic with the same key (at most 128 bytes) returns the
	// first event and queues nothing. Jobs that publish and may run twice
	// (after a crash) pass a key derived from what they publish about.
	DedupKey string
	// MustExist refuses (fault.NotFound) a topic that does not exist,
	// rather than creating it.
	MustExist bool
}

// PublishEvent publishes as Publish does and returns the event.
func (s *Service) PublishEvent(ctx context.Context, in PublishInput) (*Event, error) {
	if in.AccountID == "" {
		return nil, fault.Invalidf("publish: no account")
	}
	topic, err := TopicFromARN(in.AccountID, in.Destination)
	if err != nil {
		return nil, err
	}
	if len(in.Message) > MaxMessageBytes {
		return nil, fault.Invalidf("message of %d bytes is over the limit of %d", len(in.Message), MaxMessageBytes)
	}
	if len(in.DedupKey) > 128 {
		return nil, fault.Invalidf("deduplication key longer than 128 bytes")
	}
	var (
		ev      *Event
		matched int
	)
	err = s.store.InTx(ctx, func(tx Tx) error {
		now := s.cfg.Now()
		if in.MustExist {
			if _, err := tx.GetTopic(ctx, in.AccountID, topic); err != nil {
				return err
			}
		} else if _, err := tx.EnsureTopic(ctx, in.AccountID, topic, now); err != nil {
			return err
		}
		if in.DedupKey != "" {
			old, err := tx.FindEvent(ctx, in.AccountID, topic, in.DedupKey)
			if err != nil || old != nil {
				ev = old
				return err
			}
		}
		subs, err := tx.ListSubscriptions(ctx, in.AccountID, topic)
		if err != nil {
			return err
		}
		ev = &Event{AccountID: in.AccountID, ID: newEventID(now), Topic: topic, Body: in.Message, DedupKey: in.DedupKey, CreatedAt: now}
		if ev.Body == nil {
			ev.Body = []byte{}
		}
		if err := tx.InsertEvent(ctx, ev); err != nil {
			return err
		}
		var ds []Delivery
		for _, sub := range subs {
			if sub.Filter != "" {
				f, err := ParseFilter(sub.Filter)
				if err != nil {
					s.log.Warn("subscription has a bad filter; skipped", "subscription", sub.ID, "err", err)
					continue
				}
				if !f.Match(in.Message) {
					continue
				}
			}
			ds = append(ds, Delivery{
				AccountID: in.AccountID, EventID: ev.ID, SubscriptionID: sub.ID, Topic: topic, State: Pending,
				NextAttemptAt: now, DeadlineAt: now.Add(s.cfg.GiveUp), CreatedAt: now, UpdatedAt: now,
			})
		}
		if err := tx.InsertDeliveries(ctx, ds); err != nil {
			return err
		}
		for _, d := range ds {
			if err := tx.Enqueue(ctx, DeliverArgs{AccountID: d.AccountID, EventID: d.EventID, SubscriptionID: d.SubscriptionID}); err != nil {
				return err
			}
		}
		matched = len(ds)
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.obs.Published(matched)
	return ev, nil
}

// PublishArgs is a publish made as a job: the transactional variant of
// Publish. A domain whose transaction can enqueue River jobs (gateway.Tx,
// mailmanager.Tx, … Enqueue) enqueues NewPublishJob's job in its own
// transaction, so the event commits with its rows or not at all; the
// worker then publishes, idempotently (the job's DedupKey, else its River
// job ID, keys the event), so that a re-run job publishes once.
type PublishArgs struct {
	AccountID   string `json:"account_id"`
	Destination string `json:"destination"`
	Message     []byte `json:"message"`
	DedupKey    string `json:"dedup_key,omitempty"`
}

func (PublishArgs) Kind() string { return KindPublish }

// NewPublishJob checks a publish and returns its job, to enqueue.
func NewPublishJob(accountID, destinationARN string, message []byte) (PublishArgs, error) {
	if _, err := TopicFromARN(accountID, destinationARN); err != nil {
		return PublishArgs{}, err
	}
	if len(message) > MaxMessageBytes {
		return PublishArgs{}, fault.Invalidf("message of %d bytes is over the limit of %d", len(message), MaxMessageBytes)
	}
	return PublishArgs{AccountID: accountID, Destination: destinationARN, Message: message}, nil
}

type publishWorker struct {
	river.WorkerDefaults[PublishArgs]
	s *Service
}

func (w *publishWorker) Work(ctx context.Context, job *river.Job[PublishArgs]) error {
	a := job.Args
	key := a.DedupKey
	if key == "" {
		key = "job:" + strconv.FormatInt(job.ID, 10)
	}
	_, err := w.s.PublishEvent(ctx, PublishInput{AccountID: a.AccountID, Destination: a.Destination, Message: a.Message, DedupKey: key})
	if k := fault.KindOf(err); k == fault.Invalid || k == fault.AccessDenied {
		w.s.log.Warn("queued publish refused", "account", a.AccountID, "destination", a.Destination, "err", err)
		return nil // no retry makes it valid
	}
	return err
}
