// Package store opens the database of a Tidings node: SQLite in the data
// directory by default, PostgreSQL when given a postgres:// URL. It migrates
// the schema (ours and River's) and hands out the domain stores and the job
// queue, all over one connection pool, so that a domain write and the job it
// enqueues commit in one transaction.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tidings/tidings/internal/awsapi"
	"github.com/tidings/tidings/internal/iam"
	"github.com/tidings/tidings/internal/jobs"
	"github.com/tidings/tidings/internal/mailmanager"
	"github.com/tidings/tidings/internal/store/postgres"
	"github.com/tidings/tidings/internal/store/sqlite"
	"github.com/tidings/tidings/internal/store/sqlstore"
)

// FileName is the SQLite database's name in the data directory.
const FileName = "tidings.db"

// DB is an open database with its job queue.
type DB struct {
	sql     *sql.DB              // writes and transactions
	read    *sql.DB              // reads outside transactions (SQLite); nil: sql
	ckpt    *sqlite.Checkpointer // SQLite: copies the log into the database
	dialect sqlstore.Dialect
	store   *sqlstore.Store
	queue   *jobs.Queue
	listen  *pgxpool.Pool // PostgreSQL only
	log     *slog.Logger

	closeOnce sync.Once
	closeErr  error
}

// Option configures Open.
type Option func(*options)

type options struct{ nodeID string }

// WithNodeID sets the node id of the job queue client (config.Node).
func WithNodeID(id string) Option { return func(o *options) { o.nodeID = id } }

// Open opens the database named by databaseURL: "" for SQLite at
// <dataDir>/tidings.db (the directory is created), postgres:// or
// postgresql:// for PostgreSQL. It applies pending migrations before
// returning; on PostgreSQL concurrent Opens take turns.
//
// WithNodeID names this process in the job queue (by default a random
// name): the same across restarts, so that the gateway can tell the work
// the previous life of this node held (gateway.Recover).
func Open(ctx context.Context, databaseURL, dataDir string, log *slog.Logger, opts ...Option) (*DB, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var (
		db     *sql.DB
		read   *sql.DB
		d      sqlstore.Dialect
		kind   jobs.Driver
		listen *pgxpool.Pool
		sync   func() error // SQLite: makes commits durable (sqlite.WALSync)
		ckpt   *sqlite.Checkpointer
		err    error
	)
	switch {
	case databaseURL == "":
		if dataDir == "" {
			return nil, errors.New("store: no database URL and no data directory: one of them is needed")
		}
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("store: data directory: %w", err)
		}
		path := filepath.Join(dataDir, FileName)
		if db, read, err = sqlite.Open(ctx, path); err != nil {
			return nil, err
		}
		sync = sqlite.NewWALSync(path).Sync
		if ckpt, err = sqlite.StartCheckpointer(ctx, path, log); err != nil {
			read.Close()
			db.Close()
			return nil, err
		}
		d, kind = sqlite.Dialect{}, jobs.SQLite
		log.Info("database", "dialect", "sqlite", "path", path)
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		if db, err = postgres.Open(ctx, databaseURL); err != nil {
			return nil, err
		}
		if listen, err = postgres.ListenPool(ctx, databaseURL); err != nil {
			db.Close()
			return nil, err
		}
		d, kind = postgres.Dialect{}, jobs.Postgres
		log.Info("database", "dialect", "postgres", "url", postgres.Redact(databaseURL))
	default:
		scheme, _, _ := strings.Cut(databaseURL, ":")
		return nil, fmt.Errorf("store: unsupported database URL scheme %q: leave the URL empty for SQLite in the data directory, or give postgres://user:password@host:port/dbname", scheme)
	}

	fail := func(err error) (*DB, error) {
		if listen != nil {
			listen.Close()
		}
		if ckpt != nil {
			ckpt.Close()
		}
		if read != nil {
			read.Close()
		}
		db.Close()
		return nil, err
	}
	err = sqlstore.Migrate(ctx, db, d, log, func(ctx context.Context) error {
		return jobs.Migrate(ctx, db, kind, log)
	})
	if err != nil {
		return fail(fmt.Errorf("store: %w", err))
	}
	q, err := jobs.New(db, kind, log, jobs.Options{ListenPool: listen, ID: o.nodeID, Sync: sync})
	if err != nil {
		return fail(err)
	}
	st := sqlstore.New(db, read, d, q)
	st.SetSync(sync)
	return &DB{
		sql:     db,
		read:    read,
		ckpt:    ckpt,
		dialect: d,
		store:   st,
		queue:   q,
		listen:  listen,
		log:     log,
	}, nil
}

// MailManager returns the Mail Manager store.
func (db *DB) MailManager() mailmanager.Store { return db.store }

// IAM returns the store of accounts, access keys and settings.
func (db *DB) IAM() iam.Store { return db.store.IAM() }

// KeyLookup returns the access key lookup of SigV4 verification: the
// secret of an active key and its account's root principal.
func (db *DB) KeyLookup() awsapi.KeyLookup { return db.store.IAM() }

// Idempotency returns the store of answers to requests with client tokens.
func (db *DB) Idempotency() awsapi.IdempotencyStore { return db.store.Idempotency() }

// PurgeIdempotency forgets the answers remembered before cutoff.
func (db *DB) PurgeIdempotency(ctx context.Context, cutoff time.Time) (int64, error) {
	return db.store.Idempotency().Purge(ctx, cutoff)
}

// Jobs returns the job queue. Register workers, then Start it on nodes
// that run workers; every node can insert without starting it.
func (db *DB) Jobs() *jobs.Queue { return db.queue }

// Dialect is "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect.Name() }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.sql.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	if db.read != nil {
		if err := db.read.PingContext(ctx); err != nil {
			return fmt.Errorf("store: ping: %w", err)
		}
	}
	return nil
}

// Close stops the job queue if it runs (running jobs get 10 seconds, then
// their contexts are cancelled) and closes the pools. Stop the queue
// yourself first for a longer grace period.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := db.queue.Stop(ctx)
		if db.listen != nil {
			db.listen.Close()
		}
		var rerr, cerr error
		if db.ckpt != nil {
			cerr = db.ckpt.Close()
		}
		if db.read != nil {
			rerr = db.read.Close()
		}
		db.closeErr = errors.Join(err, cerr, rerr, db.sql.Close())
	})
	return db.closeErr
}
