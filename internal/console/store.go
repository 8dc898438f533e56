package console

import (
	"context"
	"time"
)

// Session is a console session as stored.
type Session struct {
	// Key is the hex SHA-256 of the session cookie's random ID: the store
	// holds no usable cookie.
	Key         string
	AccountID   string
	AccessKeyID string // "" after a password login
	Method      string // "access key" or "password"
	CSRF        string
	CreatedAt   time.Time
	SeenAt      time.Time
}

// SessionStore keeps console sessions and the history of console
// searches in the database, so that they survive a restart and every node
// of a cluster knows them. Errors:
// fault.NotFound for a missing session.
type SessionStore interface {
	CreateSession(ctx context.Context, s *Session) error
	GetSession(ctx context.Context, key string) (*Session, error)
	// TouchSession records a request of the session at seen.
	TouchSession(ctx context.Context, key string, seen time.Time) error
	// DeleteSession is a no-op for a missing session.
	DeleteSession(ctx context.Context, key string) error
	// DeleteExpiredSessions deletes the sessions seen before seenBefore or
	// created before createdBefore, and says how many.
	DeleteExpiredSessions(ctx context.Context, seenBefore, createdBefore time.Time) (int64, error)

	// AddSearch records a console search and forgets the oldest of its
	// archive's beyond keep.
	AddSearch(ctx context.Context, r *SearchRecord, keep int) error
	// ListSearches returns an archive's console searches, newest first.
	ListSearches(ctx context.Context, accountID, archiveID string, limit int) ([]SearchRecord, error)
}
