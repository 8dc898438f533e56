package sending

import (
	"context"
	"time"
)

// Kind names a kind of sending resource kept as a JSON body.
type Kind string

const (
	// KindIdentity: an email address or domain identity (Name is the
	// identity, lower-cased for domains).
	KindIdentity Kind = "identity"
	// KindConfigSet: a configuration set with its event destinations.
	KindConfigSet Kind = "configuration-set"
	// KindAccount: the account's sending settings (Name is "").
	KindAccount Kind = "account"
)

// Resource is one sending resource as the store keeps it. The domain owns
// Body (JSON of its record); Status is indexed so that the verification
// job finds the identities it must check.
type Resource struct {
	AccountID string
	Kind      Kind
	Name      string
	Status    string
	Body      []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Suppressed is one address of an account's suppression list.
type Suppressed struct {
	AccountID  string
	Email      string // lower case
	Reason     string // BOUNCE or COMPLAINT
	MessageID  string
	FeedbackID string
	UpdatedAt  time.Time
}

// SuppressedFilter selects addresses for ListSuppressed.
type SuppressedFilter struct {
	Reasons []string  // empty: any
	Since   time.Time // zero: no bound (inclusive)
	Until   time.Time // zero: no bound (exclusive)
	After   string    // email to start after
	Limit   int
}

// Message is one accepted outbound message.
type Message struct {
	MessageID string
	AccountID string
	State     MessageState
	// Meta is JSON owned by this package: the envelope, the mail object of
	// events, the configuration set and tags.
	Meta    []byte
	BlobKey string // "" once delivered everywhere
	// Content is the message itself when it is kept in the database
	// (up to blob.InlineMax), set to insert it: InsertMessage stores it
	// under BlobKey in the same transaction; UpdateMessage with BlobKey ""
	// removes it. Reads leave it nil (see Reader.SpooledContent).
	Content    []byte
	Recipients int
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// LeaseOwner, when not empty, is the process delivering the message
	// in process (dispatch.go) until LeaseUntil; it has no delivery job
	// meanwhile.
	LeaseOwner string
	LeaseUntil time.Time
}

// MessageState is where a message is in its life.
type MessageState string

const (
	MessageQueued MessageState = "QUEUED" // accepted; the Send event not yet published
	MessageActive MessageState = "ACTIVE" // Send published; deliveries outstanding
	MessageDone   MessageState = "DONE"   // every recipient settled
)

// RecipientState is the state of one recipient of a message.
type RecipientState string

const (
	RcptPending    RecipientState = "PENDING"
	RcptDeferred   RecipientState = "DEFERRED"
	RcptDelivered  RecipientState = "DELIVERED"
	RcptBounced    RecipientState = "BOUNCED"
	RcptSuppressed RecipientState = "SUPPRESSED"
)

// Recipient is one envelope recipient of a message.
type Recipient struct {
	MessageID     string
	Recipient     string
	State         RecipientState
	Attempts      int
	NextAttemptAt time.Time
	LastReply     string
	RemoteMTA     string
	UpdatedAt     time.Time
}

// Store is what the sending domain needs from persistence.
// Implementations live under internal/store and pass the conformance suite
// in internal/store/storetest (RunSending).
type Store interface {
	// InTx runs fn in one transaction: everything fn does (rows and jobs)
	// commits together, or nothing does.
	InTx(ctx context.Context, fn func(Tx) error) error
	Reader
}

// Reader reads. Errors: fault.NotFound for a missing row.
type Reader interface {
	Get(ctx context.Context, accountID string, kind Kind, name string) (*Resource, error)
	// List returns up to limit resources of a kind ordered by name, after
	// the name `after`.
	List(ctx context.Context, accountID string, kind Kind, after string, limit int) ([]Resource, error)
	// ListByStatus returns resources of a kind in any account whose Status
	// is one of statuses, ordered by account and name.
	ListByStatus(ctx context.Context, kind Kind, statuses []string, limit int) ([]Resource, error)

	GetSuppressed(ctx context.Context, accountID, email string) (*Suppressed, error)
	ListSuppressed(ctx context.Context, accountID string, f SuppressedFilter) ([]Suppressed, error)

	GetMessage(ctx context.Context, messageID string) (*Message, error)
	// SpooledContent returns the copy of a message kept in the database
	// under its blob key; fault.NotFound when there is none.
	SpooledContent(ctx context.Context, key string) ([]byte, error)
	Recipients(ctx context.Context, messageID string) ([]Recipient, error)
	// CountRecipientsSince sums the recipients of the account's messages
	// accepted at or after since.
	CountRecipientsSince(ctx context.Context, accountID string, since time.Time) (int64, error)
	// SendStatistics returns the account's counts per StatsInterval since
	// `since`, oldest first, intervals without any left out: the
	// recipients of messages accepted in the interval that were attempted
	// and that bounced at delivery (the simulator's and suppressed ones
	// not counted), plus the reports counted by AddFeedbackCounts.
	SendStatistics(ctx context.Context, accountID string, since time.Time) ([]SendStats, error)
}

// StatsInterval is the interval of SendStatistics, SES's.
const StatsInterval = 15 * time.Minute

// SendStats are the counts of one interval.
type SendStats struct {
	Start                         time.Time
	Attempts, Bounces, Complaints int64
}

// Tx is a transaction over the sending tables.
type Tx interface {
	Reader
	// Insert adds a resource; fault.Conflict if (account, kind, name) exists.
	Insert(ctx context.Context, r *Resource) error
	// Put inserts or replaces a resource.
	Put(ctx context.Context, r *Resource) error
	// Delete removes a resource; fault.NotFound if it does not exist.
	Delete(ctx context.Context, accountID string, kind Kind, name string) error

	// PutSuppressed inserts or replaces an address of the suppression list.
	PutSuppressed(ctx context.Context, s *Suppressed) error
	// DeleteSuppressed removes one; fault.NotFound if absent.
	DeleteSuppressed(ctx context.Context, accountID, email string) error

	// InsertMessage adds a message with its recipients.
	InsertMessage(ctx context.Context, m *Message, rcpts []Recipient) error
	// UpdateMessage writes State, BlobKey and UpdatedAt, and ends the
	// message's lease.
	UpdateMessage(ctx context.Context, m *Message) error
	// LeasedMessages returns up to limit messages leased by an owner that
	// owner accepts (any when nil) whose leases end before `before` (any
	// when zero), soonest end first.
	LeasedMessages(ctx context.Context, owner func(string) bool, before time.Time, limit int) ([]*Message, error)
	// PurgeMessages deletes up to limit DONE messages (with their
	// recipients) last updated before `before`, and the feedback counts
	// of intervals before it; it says how many messages.
	PurgeMessages(ctx context.Context, before time.Time, limit int) (int64, error)
	// AddFeedbackCounts adds reported bounces and complaints to the
	// account's counts of the interval holding at.
	AddFeedbackCounts(ctx context.Context, accountID string, at time.Time, bounces, complaints int) error
	// UpdateRecipient writes State, Attempts, NextAttemptAt, LastReply,
	// RemoteMTA and UpdatedAt of a recipient.
	UpdateRecipient(ctx context.Context, r *Recipient) error

	// Enqueue inserts background jobs in this transaction (several in one
	// statement).
	Enqueue(ctx context.Context, jobs ...Job) error
}

// Job is a background job; it has the shape of river.JobArgs.
type Job interface {
	Kind() string
}
