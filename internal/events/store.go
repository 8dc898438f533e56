package events

import (
	"context"
	"time"
)

// Topic is a named destination of events in an account. SNS topic ARNs and
// EventBridge bus ARNs of the account name topics by their last part.
type Topic struct {
	AccountID string
	Name      string
	CreatedAt time.Time
}

// Subscription is a webhook that receives every event of its topic that its
// filter (when set) matches.
type Subscription struct {
	AccountID string
	ID        string
	Topic     string
	URL       string
	// Secret keys the HMAC-SHA256 signature of each delivery.
	Secret string
	// Filter is a filter policy (JSON, see ParseFilter); "" matches all.
	Filter    string
	CreatedAt time.Time
}

// Event is one published message, kept in its topic's event log.
type Event struct {
	AccountID string
	ID        string // a UUID (version 7, so that IDs sort by time)
	Topic     string
	Body      []byte
	// DedupKey, when set, makes a second publish with the same key to the
	// same topic return the first event instead of a new one.
	DedupKey  string
	CreatedAt time.Time
}

// DeliveryState is where the delivery of an event to a subscription is.
type DeliveryState string

const (
	// Pending: not delivered yet; a job will try (again).
	Pending DeliveryState = "PENDING"
	// Delivered: the webhook answered 2xx.
	Delivered DeliveryState = "DELIVERED"
	// Dead: the webhook did not take it before the give-up time; the
	// delivery is on the dead-letter list until redriven or purged.
	Dead DeliveryState = "DEAD"
)

// Delivery is the state of one event's delivery to one subscription.
type Delivery struct {
	AccountID      string
	EventID        string
	SubscriptionID string
	Topic          string
	State          DeliveryState
	Attempts       int
	NextAttemptAt  time.Time
	LastAttemptAt  time.Time // zero before the first attempt
	// DeadlineAt is when a failing delivery goes to the dead letters: the
	// publish (or redrive) time plus the give-up time.
	DeadlineAt time.Time
	LastStatus int    // HTTP status of the last attempt; 0 when none came
	LastError  string // why the last attempt failed
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// DeliveryFilter selects deliveries for ListDeliveries.
type DeliveryFilter struct {
	AccountID      string
	Topic          string        // required
	EventID        string        // "" for any
	SubscriptionID string        // "" for any
	State          DeliveryState // "" for any
	// After is the (event id, subscription id) to list after, in that
	// order ("" from the first).
	AfterEvent, AfterSubscription string
	Limit                         int // 0: no limit
}

// DeliveryStats counts the deliveries of one subscription by state.
type DeliveryStats struct {
	SubscriptionID string
	Counts         map[DeliveryState]int64
	LastAttemptAt  time.Time
}

// Store is what the events service needs from persistence. The
// implementation lives in internal/store/sqlstore and passes the
// conformance suite of internal/store/storetest (RunEvents). Errors:
// fault.NotFound for missing topics, subscriptions and events,
// fault.Conflict for an existing topic.
type Store interface {
	// InTx runs fn in one transaction: the rows and jobs fn writes commit
	// together or not at all.
	InTx(ctx context.Context, fn func(Tx) error) error

	CreateTopic(ctx context.Context, t *Topic) error
	GetTopic(ctx context.Context, accountID, name string) (*Topic, error)
	ListTopics(ctx context.Context, accountID string) ([]Topic, error)
	// DeleteTopic removes a topic with its subscriptions, events and
	// deliveries.
	DeleteTopic(ctx context.Context, accountID, name string) error

	// CreateSubscription adds a subscription to an existing topic.
	CreateSubscription(ctx context.Context, s *Subscription) error
	GetSubscription(ctx context.Context, accountID, id string) (*Subscription, error)
	// ListSubscriptions returns a topic's subscriptions, oldest first.
	ListSubscriptions(ctx context.Context, accountID, topic string) ([]Subscription, error)
	// DeleteSubscription removes a subscription of topic with its
	// deliveries.
	DeleteSubscription(ctx context.Context, accountID, topic, id string) error
	// SubscriptionStats counts the deliveries of each subscription of a topic.
	SubscriptionStats(ctx context.Context, accountID, topic string) ([]DeliveryStats, error)

	GetEvent(ctx context.Context, accountID, id string) (*Event, error)
	// ListEvents returns a topic's events newest first, those with an ID
	// below before when it is set, at most limit (0: all).
	ListEvents(ctx context.Context, accountID, topic, before string, limit int) ([]Event, error)
	// ListDeliveries returns deliveries ordered by event and subscription.
	ListDeliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error)
	// GetDelivery reads one delivery (fault.NotFound when gone).
	GetDelivery(ctx context.Context, accountID, eventID, subscriptionID string) (*Delivery, error)

	// PurgeEvents deletes, with their deliveries, the events created
	// before cutoff and those beyond the newest keep of each topic, except
	// those with a PENDING delivery. It returns how many it deleted.
	PurgeEvents(ctx context.Context, cutoff time.Time, keep int) (int64, error)
}

// Tx is a transaction over the events tables.
type Tx interface {
	// EnsureTopic returns the topic, created (at now) when missing.
	EnsureTopic(ctx context.Context, accountID, name string, now time.Time) (*Topic, error)
	GetTopic(ctx context.Context, accountID, name string) (*Topic, error)
	ListSubscriptions(ctx context.Context, accountID, topic string) ([]Subscription, error)
	// FindEvent returns the event of topic with dedupKey, or nil.
	FindEvent(ctx context.Context, accountID, topic, dedupKey string) (*Event, error)
	// InsertEvent adds an event to its topic's log.
	InsertEvent(ctx context.Context, e *Event) error
	// InsertDeliveries adds delivery rows.
	InsertDeliveries(ctx context.Context, ds []Delivery) error
	// GetDelivery reads one delivery (fault.NotFound when gone).
	GetDelivery(ctx context.Context, accountID, eventID, subscriptionID string) (*Delivery, error)
	// UpdateDelivery writes State, Attempts, NextAttemptAt, LastAttemptAt,
	// DeadlineAt, LastStatus, LastError and UpdatedAt of d, only if the row
	// still has state wantState and wantAttempts attempts; it reports
	// whether it did.
	UpdateDelivery(ctx context.Context, d *Delivery, wantState DeliveryState, wantAttempts int) (bool, error)
	// ListDeliveries as Store.ListDeliveries, in the transaction.
	ListDeliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error)
	// Enqueue inserts a background job in this transaction.
	Enqueue(ctx context.Context, job Job) error
}

// Job is a background job; it has the shape of river.JobArgs, and a job
// with an InsertOpts() river.InsertOpts method gets River's options from it.
type Job interface {
	Kind() string
}
