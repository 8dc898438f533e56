package iam

import (
	"context"
	"time"
)

// Access key statuses, as IAM spells them.
const (
	StatusActive   = "Active"
	StatusInactive = "Inactive"
)

// Account is a tenant: every resource and access key belongs to one.
type Account struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// AccessKey is a long-term credential of an account. The secret is kept as
// given: SigV4 verification needs it to compute the expected signature.
type AccessKey struct {
	AccessKeyID     string
	SecretAccessKey string
	AccountID       string
	// Status is StatusActive or StatusInactive; "" is taken as StatusActive.
	Status    string
	CreatedAt time.Time
}

// Store is what the IAM domain needs from persistence. Errors: fault.NotFound
// when a named account or key does not exist, fault.Conflict when an access
// key ID is taken.
type Store interface {
	// EnsureAccount creates the account unless one with its ID exists; an
	// existing account is left as it is.
	EnsureAccount(ctx context.Context, a Account) error
	GetAccount(ctx context.Context, id string) (*Account, error)
	// ListAccounts returns every account ordered by ID.
	ListAccounts(ctx context.Context) ([]Account, error)

	// CreateAccessKey stores k; fault.NotFound when its account does not
	// exist, fault.Conflict when its ID is taken.
	CreateAccessKey(ctx context.Context, k AccessKey) error
	GetAccessKey(ctx context.Context, id string) (*AccessKey, error)
	// ListAccessKeys returns the keys of an account ordered by ID.
	ListAccessKeys(ctx context.Context, accountID string) ([]AccessKey, error)
	DeleteAccessKey(ctx context.Context, id string) error

	// CreateRole stores r; fault.NotFound when its account does not exist,
	// fault.Conflict when the account has a role of that name (IAM role
	// names are unique within an account whatever their case).
	CreateRole(ctx context.Context, r Role) error
	// GetRole finds a role by account and name, case-insensitively.
	GetRole(ctx context.Context, accountID, name string) (*Role, error)
	// ListRoles returns the roles of an account ("": of every account)
	// ordered by account and name.
	ListRoles(ctx context.Context, accountID string) ([]Role, error)
	// DeleteRole deletes a role and the sessions issued for it.
	DeleteRole(ctx context.Context, accountID, name string) error

	// CreateSession stores temporary credentials; fault.Conflict when the
	// access key id is taken.
	CreateSession(ctx context.Context, s Session) error
	GetSession(ctx context.Context, accessKeyID string) (*Session, error)
	// PurgeSessions deletes the sessions that expired before cutoff.
	PurgeSessions(ctx context.Context, cutoff time.Time) (int64, error)

	// Settings are a small key/value space for the identity bootstrap
	// (e.g. the marker that the root key was generated).
	GetSetting(ctx context.Context, key string) (value string, found bool, err error)
	PutSetting(ctx context.Context, key, value string) error
}
