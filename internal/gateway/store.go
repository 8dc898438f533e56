package gateway

import (
	"context"
	"time"
)

// MessageState is where a spooled message is in its life.
type MessageState string

const (
	// Queued: spooled, its rule set not yet (fully) applied.
	Queued MessageState = "QUEUED"
	// Active: every action ran; deliveries or notifications are outstanding.
	Active MessageState = "ACTIVE"
	// Done: nothing is left to do. The spooled copy is deleted.
	Done MessageState = "DONE"
)

// StepState is the state of one recorded action.
type StepState string

const (
	StepPending StepState = "PENDING"
	StepDone    StepState = "DONE"
	StepFailed  StepState = "FAILED"
	// StepSkipped: the step's recipients were all dropped by an earlier
	// failed action whose ActionFailurePolicy is DROP.
	StepSkipped StepState = "SKIPPED"
)

// DeliveryState is the state of one recipient of a Relay or Bounce step.
type DeliveryState string

const (
	DeliveryPending   DeliveryState = "PENDING"
	DeliveryDelivered DeliveryState = "DELIVERED"
	DeliveryDeferred  DeliveryState = "DEFERRED"
	DeliveryFailed    DeliveryState = "FAILED"
	// DeliveryBounced: a Bounce action returned the message for this
	// recipient; nothing was delivered.
	DeliveryBounced DeliveryState = "BOUNCED"
)

// DSN states of a delivery row (Delivery.DSN). Other values are texts that
// say why no notification could be delivered.
const (
	DSNNone    = ""        // no notification is due
	DSNPending = "PENDING" // one is due and not yet delivered
)

// Message is a spooled message. Envelope and Auth are JSON owned by this
// package; the store keeps them as they are.
type Message struct {
	QueueID        string
	AccountID      string
	IngressPointID string
	RuleSetID      string
	State          MessageState
	Envelope       []byte // JSON of storedEnvelope
	Auth           []byte // JSON of message.Auth; empty until verified
	BlobKey        string // "" once the spooled copy is deleted
	// Content is the spooled copy itself when it is kept in the database
	// (Size ≤ blob.InlineMax), set to insert it: InsertMessage stores it
	// under BlobKey in the same transaction. Reads leave it nil (see
	// Reader.SpooledContent). UpdateMessage with BlobKey "" and
	// DeleteMessage remove the database's copy.
	Content    []byte
	Size       int64
	Error      string // why processing stopped, when it did
	ReceivedAt time.Time
	UpdatedAt  time.Time
	// LeaseOwner and LeaseUntil mark a process job working the message;
	// another waits until the lease ends.
	LeaseOwner string
	LeaseUntil time.Time
}

// Step is one action of a matched rule, recorded so that a job re-run after
// a crash does not repeat what finished. Steps are numbered from 0 in the
// order they run.
type Step struct {
	QueueID    string
	Index      int
	Rule       int    // index of the rule in the rule set
	RuleName   string // the rule's name, for operators
	Action     string // "Relay", "AddHeader", ...
	Spec       []byte // JSON of the mailmanager RuleAction
	Recipients []string
	State      StepState
	Detail     string // what the step did: an archive message id, a blob key, relay details (JSON)
	Error      string
	UpdatedAt  time.Time
}

// Delivery is one recipient of a Relay step (or of a Bounce step, whose
// rows only carry the notification).
type Delivery struct {
	QueueID       string
	Step          int
	Recipient     string
	RelayID       string
	State         DeliveryState
	Attempts      int
	NextAttemptAt time.Time
	LastAttemptAt time.Time
	LastReply     string // "550 5.1.1 text", as delivery.Reply.String
	RemoteMTA     string
	DSN           string // DSNNone, DSNPending, or what became of the notification
	LeaseOwner    string
	LeaseUntil    time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// ListFilter selects messages for List.
type ListFilter struct {
	State MessageState // "" for any
	// Deferred selects the messages with at least one deferred delivery.
	Deferred bool
	// Leased selects the messages a process job holds a lease on.
	Leased bool
	// UpdatedBefore, when set, selects the messages last updated before it.
	UpdatedBefore time.Time
	After         string // queue id to start after ("" from the first)
	Limit         int    // 0: no limit
}

// Store is what the gateway needs from persistence. Implementations live
// under internal/store and pass the conformance suite in
// internal/store/storetest (RunGateway).
type Store interface {
	// InTx runs fn in one transaction: everything fn does (rows and jobs)
	// commits together, or nothing does.
	InTx(ctx context.Context, fn func(Tx) error) error
	// Reader reads outside transactions (from a read pool where there is one).
	Reader
}

// Reader reads the queue. Errors: fault.NotFound for a missing message.
type Reader interface {
	GetMessage(ctx context.Context, queueID string) (*Message, error)
	// Steps returns the steps of a message ordered by index.
	Steps(ctx context.Context, queueID string) ([]Step, error)
	// Deliveries returns the deliveries of a message ordered by step and
	// recipient.
	Deliveries(ctx context.Context, queueID string) ([]Delivery, error)
	// ListMessages returns messages ordered by queue id.
	ListMessages(ctx context.Context, f ListFilter) ([]Message, error)
	// CountMessages counts messages by state.
	CountMessages(ctx context.Context) (map[MessageState]int64, error)
	// LeasedDeliveries returns the rows some worker holds a lease on, of
	// every message.
	LeasedDeliveries(ctx context.Context) ([]Delivery, error)
	// SpooledContent returns the copy of a message kept in the database
	// under its blob key; fault.NotFound when there is none.
	SpooledContent(ctx context.Context, key string) ([]byte, error)
}

// Tx is a transaction over the queue tables.
type Tx interface {
	Reader
	// InsertMessage adds a message; fault.Conflict if its queue id exists.
	InsertMessage(ctx context.Context, m *Message) error
	// UpdateMessage writes State, Auth, BlobKey, Error, UpdatedAt and the
	// lease of an existing message (fault.NotFound otherwise).
	UpdateMessage(ctx context.Context, m *Message) error
	// ClaimMessage takes the processing lease of a QUEUED message whose
	// lease is free or ended before now, and reports whether it did.
	ClaimMessage(ctx context.Context, queueID, owner string, now, until time.Time) (bool, error)
	// LockMessage reads a message and locks its row until the transaction
	// ends, so that workers settling the same message take turns (and each
	// sees what the one before committed). fault.NotFound if it is gone.
	LockMessage(ctx context.Context, queueID string) (*Message, error)
	// DeleteMessage removes a message with its steps and deliveries.
	DeleteMessage(ctx context.Context, queueID string) error
	// InsertSteps records the plan of a message; steps already recorded
	// (same queue id and index) are left as they are.
	InsertSteps(ctx context.Context, steps []Step) error
	// UpdateStep writes State, Detail, Error and UpdatedAt of a step that is
	// still PENDING, and reports whether it was.
	UpdateStep(ctx context.Context, s *Step) (bool, error)
	// InsertDeliveries adds delivery rows; rows already present (same queue
	// id, step and recipient) are left as they are.
	InsertDeliveries(ctx context.Context, ds []Delivery) error
	// ClaimDeliveries leases to owner, until `until`, the rows of a step
	// that are PENDING or DEFERRED, due (NextAttemptAt <= now) and not
	// leased (LeaseUntil < now), and returns them.
	ClaimDeliveries(ctx context.Context, queueID string, step int, owner string, now, until time.Time) ([]Delivery, error)
	// ClaimNotifications leases, the same way, the rows of a step whose
	// DSN is DSNPending.
	ClaimNotifications(ctx context.Context, queueID string, step int, owner string, now, until time.Time) ([]Delivery, error)
	// UpdateDelivery writes State, Attempts, NextAttemptAt, LastAttemptAt,
	// LastReply, RemoteMTA, DSN, the lease and UpdatedAt of a row. With
	// owner set, only a row still leased by owner is written; it reports
	// whether the row was.
	UpdateDelivery(ctx context.Context, d *Delivery, owner string) (bool, error)
	// CountOpen counts the rows of a message that still need work: PENDING
	// or DEFERRED deliveries and pending notifications.
	CountOpen(ctx context.Context, queueID string) (int, error)
	// Enqueue inserts background jobs in this transaction (several in one
	// statement).
	Enqueue(ctx context.Context, jobs ...Job) error
}

// Job is a background job; it has the shape of river.JobArgs, and a job
// with an InsertOpts() river.InsertOpts method gets River's options from it.
type Job interface {
	Kind() string
}
