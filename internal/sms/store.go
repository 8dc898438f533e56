package sms

import (
	"context"
	"time"
)

// Kind names a kind of control-plane resource.
type Kind string

const (
	KindPhoneNumber      Kind = "phone-number"
	KindSenderID         Kind = "sender-id"
	KindPool             Kind = "pool"
	KindConfigurationSet Kind = "configuration-set"
	KindOptOutList       Kind = "opt-out-list"
	KindAccount          Kind = "account" // the account's settings (spend limits)
	KindVerifiedNumber   Kind = "verified-destination-number"
	KindProtectConfig    Kind = "protect-configuration"
)

// Entry is one of the entries kept under a resource (its resource policy,
// a protect configuration's number overrides); the store deletes them with
// the resource. The domain owns Body.
type Entry struct {
	Key       string
	Body      []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Resource is one control-plane resource as the store keeps it. The domain
// owns Body (the JSON of its record); the store indexes the other fields.
type Resource struct {
	AccountID string
	Kind      Kind
	ID        string
	// Name is unique per account and kind when not empty.
	Name string
	// GlobalKey is unique per kind across all accounts when not empty (a
	// phone number's E.164 number).
	GlobalKey string
	Body      []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

// OptedOut is one number on an opt-out list.
type OptedOut struct {
	Number string
	// EndUser is true when the number opted out itself (a STOP keyword),
	// false when PutOptedOutNumber added it.
	EndUser   bool
	CreatedAt time.Time
}

// MessageRecord is one sent message as the store keeps it. The domain owns
// Body; ProviderID (the carrier's identifier, set once submitted) and Final
// (a final receipt arrived) are indexed.
type MessageRecord struct {
	ID         string
	AccountID  string
	ProviderID string
	Final      bool
	Body       []byte
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// LeaseOwner, when not empty, is the process sending the message in
	// process (dispatch.go) until LeaseUntil; it has no send job meanwhile.
	LeaseOwner string
	LeaseUntil time.Time
}

// Store is what the SMS domain needs from persistence. Implementations live
// under internal/store and pass the conformance suite in
// internal/store/storetest (RunSMS).
type Store interface {
	// InTx runs fn in one transaction: everything fn does is committed
	// together, or nothing is when fn or the commit fails.
	InTx(ctx context.Context, fn func(Tx) error) error
	// Read runs fn in a read-only transaction on the read pool (a
	// consistent snapshot that never waits for the writer); writes
	// through its Tx fail.
	Read(ctx context.Context, fn func(Tx) error) error
}

// Tx is a transaction over the SMS tables. Errors: fault.NotFound when a
// named row does not exist, fault.Conflict when a unique name or key is
// taken.
type Tx interface {
	Insert(ctx context.Context, r *Resource) error
	Get(ctx context.Context, accountID string, kind Kind, id string) (*Resource, error)
	GetByName(ctx context.Context, accountID string, kind Kind, name string) (*Resource, error)
	// GetByKey finds a resource by its global key, whatever its account.
	GetByKey(ctx context.Context, kind Kind, key string) (*Resource, error)
	// Update replaces Name, GlobalKey, Body and UpdatedAt.
	Update(ctx context.Context, r *Resource) error
	// Put inserts or replaces a resource that has no Name or GlobalKey.
	Put(ctx context.Context, r *Resource) error
	Delete(ctx context.Context, accountID string, kind Kind, id string) error
	// List returns up to limit resources of a kind ordered by ID, after
	// the ID `after` ("" for the first page).
	List(ctx context.Context, accountID string, kind Kind, after string, limit int) ([]*Resource, error)
	// Count returns how many resources of a kind the account has.
	Count(ctx context.Context, accountID string, kind Kind) (int64, error)

	// PutEntry inserts or replaces an entry of a resource (CreatedAt is
	// kept on a replace); fault.NotFound when the resource does not exist.
	PutEntry(ctx context.Context, accountID string, kind Kind, id string, e *Entry) error
	GetEntry(ctx context.Context, accountID string, kind Kind, id, key string) (*Entry, error)
	DeleteEntry(ctx context.Context, accountID string, kind Kind, id, key string) error
	// ListEntries returns up to limit entries of a resource whose keys
	// start with prefix, ordered by key, after the key `after`.
	ListEntries(ctx context.Context, accountID string, kind Kind, id, prefix, after string, limit int) ([]*Entry, error)

	// PutOptedOut adds number to a list, or updates its EndUser flag.
	PutOptedOut(ctx context.Context, accountID, list string, o OptedOut) error
	GetOptedOut(ctx context.Context, accountID, list, number string) (*OptedOut, error)
	DeleteOptedOut(ctx context.Context, accountID, list, number string) error
	// ListOptedOut returns numbers of a list ordered by number, after `after`.
	ListOptedOut(ctx context.Context, accountID, list, after string, limit int) ([]OptedOut, error)
	// ClearOptedOut removes every number of a list.
	ClearOptedOut(ctx context.Context, accountID, list string) error

	InsertMessage(ctx context.Context, m *MessageRecord) error
	// GetMessage finds a message by ID, whatever its account, and locks it
	// until the transaction ends (receipts read, change and write it back).
	GetMessage(ctx context.Context, id string) (*MessageRecord, error)
	// GetMessageByProvider finds a message by the carrier's identifier of
	// it or of one of its parts (InsertMessageParts), the newest when
	// several have it, and locks it as GetMessage does.
	GetMessageByProvider(ctx context.Context, providerID string) (*MessageRecord, error)
	// InsertMessageParts records the carrier's ids of the parts of a
	// concatenated message after the first (which is ProviderID).
	InsertMessageParts(ctx context.Context, messageID string, providerIDs []string) error
	// UpdateMessage replaces ProviderID, Final, Body and UpdatedAt, and
	// ends the message's lease: whoever writes it has worked it.
	UpdateMessage(ctx context.Context, m *MessageRecord) error
	// LeasedMessages returns up to limit messages leased by an owner that
	// owner accepts (every owner when nil) whose lease ends before
	// `before` (whenever it ends when before is zero).
	LeasedMessages(ctx context.Context, owner func(string) bool, before time.Time, limit int) ([]*MessageRecord, error)
	// PendingMessages returns up to limit messages without a final receipt
	// created before `before`, oldest first.
	PendingMessages(ctx context.Context, before time.Time, limit int) ([]*MessageRecord, error)

	// Enqueue inserts background jobs in this transaction (several in one
	// statement): they run only if the transaction commits.
	Enqueue(ctx context.Context, jobs ...Job) error
	// Lock makes transactions that lock the same key take turns: the
	// second waits until the first ends (commits or rolls back), on every
	// node. A read-modify-write of a row that may not exist yet (a
	// month's spend) needs it on PostgreSQL; on SQLite one writer already
	// serializes them.
	Lock(ctx context.Context, key string) error
}

// Job is a background job to enqueue inside a transaction; it has the shape
// of river.JobArgs so the store can hand it to River unchanged.
type Job interface {
	Kind() string
}
