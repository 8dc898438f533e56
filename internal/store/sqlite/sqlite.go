// Package sqlite is the SQLite dialect of the store: the embedded default,
// one file in the data directory, through the pure-Go modernc.org/sqlite.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// ReadConns bounds the read pool. WAL readers never block the writer nor
// it them, so reads outside transactions go on beside a write.
const ReadConns = 8

// BusyTimeoutMS is how long a connection waits for a lock another process
// holds before SQLITE_BUSY, which the store reports as fault.Unavailable.
const BusyTimeoutMS = 10000

// DSN returns the connection string of the database file at path:
//   - journal_mode=WAL: readers never block the writer nor the writer them;
//   - synchronous=NORMAL: in WAL mode a commit is appended to the log
//     without an fsync, so it survives a crash of the process but not a
//     power cut. A "250 OK" must survive one: the store makes each commit
//     durable after the fact with WALSync, whose fsyncs are shared by
//     concurrent commits and do not hold the writer; commits that need
//     no fsync (the job queue's bookkeeping, lazy ones) skip it;
//   - foreign_keys=ON: SQLite leaves them off unless asked, per connection;
//   - busy_timeout: wait for a lock held by another process, not fail;
//   - cache_size: SQLite's default page cache is 2 MB per connection,
//     less than the hot part of a busy database (the queues, the archive
//     index): the writer gets 64 MB, each reader 8 MB, so that pages are
//     read from the file once, not on every transaction;
//   - wal_autocheckpoint=0 on the writer: the Checkpointer copies the log
//     into the database from a connection of its own, never holding the
//     writer through the copy and its fsyncs;
//   - _txlock=immediate: BEGIN takes the write lock up front. A deferred
//     transaction that reads and then writes fails with SQLITE_BUSY at
//     once, without the busy timeout, if another wrote in between (its
//     snapshot is stale); taking the lock at BEGIN removes that case.
//
// readOnly adds query_only, for the read pool.
func DSN(path string, readOnly bool) (string, error) {
	if strings.ContainsAny(path, "?#\x00") {
		return "", fmt.Errorf("sqlite: database path %q must not contain '?', '#' or NUL", path)
	}
	dsn := fmt.Sprintf("file:%s?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"+
		"&_pragma=foreign_keys(ON)&_txlock=immediate", path, BusyTimeoutMS)
	if readOnly {
		dsn += "&_pragma=query_only(ON)&_pragma=cache_size(-8192)"
	} else {
		dsn += "&_pragma=cache_size(-65536)&_pragma=wal_autocheckpoint(0)"
	}
	return dsn, nil
}

// Open opens (creating if needed) the database file at path, as two pools:
//
//   - write: one connection, for every transaction and every write, ours
//     and River's. SQLite admits one writer at a time anyway; with several
//     writer connections they queue in SQLite's busy handler, which polls
//     (sleeping up to 100 ms) and lets a newcomer take the lock before
//     those already waiting, so under load a writer can starve past any
//     busy timeout (seen in internal/jobs' TestUnderLoad: SQLITE_BUSY after
//     10 s with an 8-connection pool). Queued on database/sql's pool
//     instead, they are handed the connection in turn, and River's SQLite
//     driver documents one connection as its working setup.
//   - read: ReadConns connections with query_only, for reads outside
//     transactions (key lookups on every request), which WAL lets run
//     beside the writer.
//
// Code holding a write transaction must not wait on another write outside
// it: with one writer connection that waits for ever (for its context).
func Open(ctx context.Context, path string) (write, read *sql.DB, err error) {
	if write, err = open(ctx, path, false, 1); err != nil {
		return nil, nil, err
	}
	if read, err = open(ctx, path, true, ReadConns); err != nil {
		write.Close()
		return nil, nil, err
	}
	return write, read, nil
}

func open(ctx context.Context, path string, readOnly bool, conns int) (*sql.DB, error) {
	dsn, err := DSN(path, readOnly)
	if err != nil {
		return nil, err
	}
	conn, err := newConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	// Check the pragmas took: a journal_mode that silently stayed "delete"
	// (e.g. a file system without shared memory) would change durability
	// and concurrency behind our back.
	var mode string
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: journal_mode is %q, want wal", path, mode)
	}
	return db, nil
}

// Dialect is the SQLite sqlstore.Dialect.
type Dialect struct{}

func (Dialect) Name() string           { return "sqlite" }
func (Dialect) Rebind(q string) string { return q }

func code(err error) (int, bool) {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code(), true
	}
	return 0, false
}

func (Dialect) UniqueViolation(err error) (string, bool) {
	c, ok := code(err)
	if !ok || (c != sqlite3.SQLITE_CONSTRAINT_UNIQUE && c != sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
		return "", false
	}
	// "UNIQUE constraint failed: resources.account_id, resources.kind, resources.name"
	msg := err.Error()
	if _, cols, ok := strings.Cut(msg, "failed: "); ok {
		return cols, true
	}
	return msg, true
}

func (Dialect) ForeignKeyViolation(err error) bool {
	c, ok := code(err)
	return ok && c == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

func (Dialect) Transient(err error) bool {
	c, ok := code(err)
	if !ok {
		return false
	}
	switch c & 0xff { // primary code of an extended one
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR:
		return true
	}
	return false
}

// HasPrefix uses instr rather than LIKE: SQLite's LIKE ignores ASCII case,
// and the prefix would need its wildcards escaped.
func (Dialect) HasPrefix(column string) string { return "instr(" + column + ", ?) = 1" }

// LockMigrations has nothing to do on SQLite: every transaction here begins
// IMMEDIATE, holding the database's one write lock, and each migration
// re-checks its version inside its transaction.
func (Dialect) LockMigrations(context.Context, *sql.DB) (func(context.Context) error, error) {
	return func(context.Context) error { return nil }, nil
}

func (Dialect) Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err)
	}
	return sub
}
