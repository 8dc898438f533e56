package mailmanager

import (
	"context"
	"time"
)

// Kind names a kind of control-plane resource.
type Kind string

const (
	KindTrafficPolicy     Kind = "traffic-policy"
	KindRuleSet           Kind = "rule-set"
	KindIngressPoint      Kind = "ingress-point"
	KindRelay             Kind = "relay"
	KindArchive           Kind = "archive"
	KindAddressList       Kind = "address-list"
	KindImportJob         Kind = "address-list-import-job"
	KindAddonInstance     Kind = "addon-instance"
	KindAddonSubscription Kind = "addon-subscription"
)

// Resource is one control-plane resource as the store keeps it. The domain
// owns Body (JSON of its record); the store indexes the other fields.
type Resource struct {
	AccountID string
	Kind      Kind
	ID        string
	// Name is unique per account and kind when not empty.
	Name string
	ARN  string
	Body []byte
	// Refs are the IDs of the resources this one uses (an ingress point's
	// rule set and traffic policy, a rule's archive or relay). The store
	// keeps them so that a delete can tell what still uses a resource.
	Refs      []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Ref names a resource that refers to another.
type Ref struct {
	Kind Kind
	ID   string
	Name string
}

// Member is one address of an address list.
type Member struct {
	Address   string
	CreatedAt time.Time
}

// Store is what the Mail Manager domain needs from persistence.
// Implementations live under internal/store and pass the conformance suite in
// internal/store/storetest.
type Store interface {
	// InTx runs fn in one transaction: everything fn does is committed
	// together, or nothing is when fn or the commit fails.
	InTx(ctx context.Context, fn func(Tx) error) error
	// Read runs fn in a read-only transaction, a consistent snapshot that
	// does not wait for writers (nor they for it); fn must not write.
	Read(ctx context.Context, fn func(Tx) error) error
}

// Tx is a transaction over the Mail Manager tables. Errors: fault.NotFound
// when a named row does not exist, fault.Conflict when a unique name or claim
// is taken.
type Tx interface {
	Insert(ctx context.Context, r *Resource) error
	Get(ctx context.Context, accountID string, kind Kind, id string) (*Resource, error)
	GetByName(ctx context.Context, accountID string, kind Kind, name string) (*Resource, error)
	// Update replaces Name, ARN, Body, Refs and UpdatedAt of an existing resource.
	Update(ctx context.Context, r *Resource) error
	// Delete removes the resource, its refs, its tags and its claims.
	Delete(ctx context.Context, accountID string, kind Kind, id string) error
	// List returns up to limit resources of a kind ordered by ID, starting
	// after the ID `after` ("" for the first page).
	List(ctx context.Context, accountID string, kind Kind, after string, limit int) ([]*Resource, error)
	// ListAll returns the resources of a kind across all accounts (for the
	// listeners a node must run), ordered by account and ID.
	ListAll(ctx context.Context, kind Kind) ([]*Resource, error)
	// ReferencedBy lists the resources whose Refs contain id.
	ReferencedBy(ctx context.Context, accountID, id string) ([]Ref, error)

	// Claim reserves key in namespace for owner (e.g. namespace "smtp-port",
	// key "2525"); fault.Conflict if another owner holds it. Claims are
	// global, not per account. Delete of the owner releases its claims.
	Claim(ctx context.Context, namespace, key, ownerID string) error
	// Claimed reports the owner of key in namespace, or "" when free.
	Claimed(ctx context.Context, namespace, key string) (string, error)
	// Release drops every claim of owner in namespace.
	Release(ctx context.Context, namespace, ownerID string) error

	// Tags of a resource, by ARN.
	Tags(ctx context.Context, accountID, arn string) (map[string]string, error)
	SetTags(ctx context.Context, accountID, arn string, tags map[string]string) error
	RemoveTags(ctx context.Context, accountID, arn string, keys []string) error

	// Address list members. AddMember: fault.Conflict if present.
	AddMember(ctx context.Context, listID, address string, at time.Time) error
	// AddMembers inserts many, skipping those present; returns how many were new.
	AddMembers(ctx context.Context, listID string, addresses []string, at time.Time) (int, error)
	RemoveMember(ctx context.Context, listID, address string) error
	GetMember(ctx context.Context, listID, address string) (*Member, error)
	// ListMembers returns members ordered by address, after `after`, whose
	// address starts with prefix (when not "").
	ListMembers(ctx context.Context, listID, prefix, after string, limit int) ([]Member, error)
	CountMembers(ctx context.Context, listID string) (int64, error)

	// Enqueue inserts a background job in this transaction: it runs only
	// if the transaction commits.
	Enqueue(ctx context.Context, job Job) error
}

// Job is a background job to enqueue inside a transaction; it has the shape
// of river.JobArgs so the store can hand it to River unchanged.
type Job interface {
	Kind() string
}
