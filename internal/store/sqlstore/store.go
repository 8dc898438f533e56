package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tidings/tidings/internal/durable"
	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/groupcommit"
	"github.com/tidings/tidings/internal/jobs"
	"github.com/tidings/tidings/internal/mailmanager"
)

// Store implements the domain stores over a database.
type Store struct {
	db    *sql.DB // transactions and writes
	rdb   *sql.DB // reads outside transactions; may be db
	d     Dialect
	queue *jobs.Queue
	sync  func() error                  // nil: every commit is durable by itself
	lazy  *groupcommit.Group[*lazyCall] // SQLite: lazy transactions combined (combine.go)
	gate  *gate                         // SQLite: turns at the writer (gate.go)

	rebound sync.Map // query text -> dialect's text
}

// lazyMax bounds the lazy transactions combined into one (combine.go).
// The gate lets commits someone waits on go between two batches, so a
// batch may be long: under load, workers wait on lazy commits far more
// than on anything else (bench/relay, 50 sessions, archiving: all 150).
const lazyMax = 256

// New returns the stores over db, whose schema is migrated. Reads outside
// transactions go to read, a pool over the same database (db itself where
// a separate read pool buys nothing). queue inserts the jobs of
// Tx.Enqueue; it must be over db.
func New(db, read *sql.DB, d Dialect, queue *jobs.Queue) *Store {
	if read == nil {
		read = db
	}
	s := &Store{db: db, rdb: read, d: d, queue: queue}
	if d.Name() == "sqlite" {
		s.lazy = groupcommit.New(lazyMax, s.runLazy)
		s.gate = &gate{}
	}
	return s
}

// q returns query in the dialect's placeholders.
func (s *Store) q(query string) string {
	if v, ok := s.rebound.Load(query); ok {
		return v.(string)
	}
	r := s.d.Rebind(query)
	s.rebound.Store(query, r)
	return r
}

// wrap gives a database error its fault kind: busy or unreachable
// databases are fault.Unavailable, context errors stay as they are, the
// rest is fault.Internal with the operation named.
func (s *Store) wrap(err error, op string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case s.d.Transient(err):
		return &fault.Error{Kind: fault.Unavailable, Message: "storage is busy or unavailable; retry later", Err: fmt.Errorf("%s: %w", op, err)}
	}
	var fe *fault.Error
	if errors.As(err, &fe) {
		return err
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

// AcquireTimeout bounds the wait for a connection to write with. On SQLite
// there is one writer connection: a wait this long means the database is
// overloaded, or that code holding a transaction is waiting on a write
// made outside it, which would otherwise wait for ever.
const AcquireTimeout = 30 * time.Second

// writer returns a connection of the write pool, or fault.Unavailable when
// none comes within AcquireTimeout. Its context bounds only the wait.
func (s *Store) writer(ctx context.Context) (*sql.Conn, error) {
	actx, cancel := context.WithTimeout(ctx, AcquireTimeout)
	defer cancel()
	conn, err := s.db.Conn(actx)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return nil, &fault.Error{Kind: fault.Unavailable, Message: "storage is busy; retry later",
			Err: fmt.Errorf("no database connection to write with after %s: overloaded, or a write outside a transaction waits on that transaction", AcquireTimeout)}
	}
	return conn, s.wrap(err, "connect")
}

// execWrite runs one writing statement outside a transaction.
func (s *Store) execWrite(ctx context.Context, op, query string, args ...any) (sql.Result, error) {
	conn, err := s.writer(ctx)
	if err != nil {
		return nil, err
	}
	res, err := conn.ExecContext(ctx, s.q(query), args...)
	_ = conn.Close() // the writer is free while the write is made durable
	if err != nil {
		return nil, s.wrap(err, op)
	}
	return res, s.durable(ctx)
}

// InTx runs fn in one transaction (mailmanager.Store).
func (s *Store) InTx(ctx context.Context, fn func(mailmanager.Tx) error) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error { return fn(&txn{s: s, tx: tx}) })
}

// Read runs fn in a read-only transaction of the read pool.
func (s *Store) Read(ctx context.Context, fn func(mailmanager.Tx) error) error {
	return s.readTx(ctx, func(tx *sql.Tx) error { return fn(&txn{s: s, tx: tx}) })
}

// readTx runs fn in a read-only transaction of the read pool: a snapshot
// that neither waits for the writer nor holds it.
func (s *Store) readTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return s.wrap(err, "begin read")
	}
	defer func() { _ = tx.Rollback() }() // read only: nothing to keep
	return fn(tx)
}

// commit commits tx and, unless ctx is lazy (package durable), returns
// once the commit is on disk.
func (s *Store) commit(ctx context.Context, tx *sql.Tx) error {
	if err := tx.Commit(); err != nil {
		return err
	}
	return s.durable(ctx)
}

// durable returns once what was committed is on disk, where the database
// leaves that to the store (SetSync); at once for a lazy ctx.
func (s *Store) durable(ctx context.Context) error {
	if s.sync == nil || durable.IsLazy(ctx) {
		return nil
	}
	if err := s.sync(); err != nil {
		return &fault.Error{Kind: fault.Unavailable, Message: "storage could not make a write durable; retry later", Err: err}
	}
	return nil
}

// SetSync gives the store the function that makes commits durable, for
// a database that does not do it at each commit (SQLite's writer runs
// with synchronous=NORMAL: see sqlite.WALSync). Call it before use.
func (s *Store) SetSync(sync func() error) { s.sync = sync }

// writeTx runs fn in one transaction on a connection of the write pool
// (waiting at most AcquireTimeout for it): committed when fn succeeds,
// rolled back otherwise. Unless ctx is lazy it returns once the commit is
// on disk, waiting for that after giving the connection back: on SQLite,
// with its one writer, the next transactions run meanwhile and share the
// fsync (WALSync), instead of each holding the writer through its own.
func (s *Store) writeTx(ctx context.Context, fn func(*sql.Tx) error) error {
	if err := s.commitTx(ctx, fn); err != nil {
		return err
	}
	return s.wrap(s.durable(ctx), "commit")
}

// commitTx is writeTx up to the commit, not waiting for it to be durable.
func (s *Store) commitTx(ctx context.Context, fn func(*sql.Tx) error) error {
	if s.gate != nil {
		if err := s.gate.enter(ctx, durable.IsLazy(ctx)); err != nil {
			return s.wrap(err, "begin")
		}
		defer s.gate.leave() // after the connection is back: defers run last first
	}
	conn, err := s.writer(ctx)
	if err != nil {
		return err
	}
	defer conn.Close() // after the rollback below: defers run last first
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap(err, "begin")
	}
	committed := false
	defer func() {
		if !committed {
			// The error of Rollback adds nothing to fn's.
			_ = tx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return s.wrap(err, "commit")
	}
	committed = true
	return nil
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// stored is t as a read gives it back: UTC, to the millisecond; now when zero.
func stored(t, now time.Time) time.Time {
	if t.IsZero() {
		t = now
	}
	return fromMS(ms(t))
}

// noun is how messages name a kind: "rule-set" → "rule set".
func noun(k mailmanager.Kind) string { return strings.ReplaceAll(string(k), "-", " ") }

func notFound(kind, id, format string, args ...any) error {
	return &fault.Error{Kind: fault.NotFound, Message: fmt.Sprintf(format, args...), ResourceType: kind, ResourceID: id}
}

func conflict(kind, id, format string, args ...any) error {
	return &fault.Error{Kind: fault.Conflict, Message: fmt.Sprintf(format, args...), ResourceType: kind, ResourceID: id}
}
