// Package sqlstore is the one SQL implementation of the domain stores, over
// database/sql. What differs between SQLite and PostgreSQL (placeholders,
// error codes, a prefix test, migration locking, the DDL) comes from a
// Dialect; the dialect packages internal/store/sqlite and
// internal/store/postgres provide one each.
//
// Conventions both dialects keep: timestamps are integer unix milliseconds;
// text compares byte-wise (SQLite's BINARY collation, PostgreSQL columns
// declared COLLATE "C"), so "ordered by ID" means the same on both.
package sqlstore

import (
	"context"
	"database/sql"
	"io/fs"
)

// Dialect is what one database brings.
type Dialect interface {
	// Name is "sqlite" or "postgres".
	Name() string
	// Rebind rewrites the ? placeholders of query into the dialect's own.
	// Queries here carry no ? inside literals.
	Rebind(query string) string
	// UniqueViolation reports whether err is a unique constraint violation,
	// and names the constraint or columns when the database says.
	UniqueViolation(err error) (constraint string, ok bool)
	// ForeignKeyViolation reports whether err is a foreign key violation.
	ForeignKeyViolation(err error) bool
	// Transient reports whether err is the database being busy, locked,
	// unreachable or shutting down: a retry later may succeed.
	Transient(err error) bool
	// HasPrefix returns a boolean SQL expression that is true when column
	// starts with the text bound to its single ? placeholder, byte-wise.
	HasPrefix(column string) string
	// LockMigrations serializes migrators across processes until unlock.
	// The migrations themselves run on db's other connections.
	LockMigrations(ctx context.Context, db *sql.DB) (unlock func(context.Context) error, err error)
	// Migrations holds the dialect's schema as NNNN_name.sql files.
	Migrations() fs.FS
}
