// Package postgres is the PostgreSQL dialect of the store, for the
// scale-out shape: pgx v5 behind database/sql (github.com/jackc/pgx/v5/stdlib).
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// MaxOpenConns bounds the pool of one process.
const MaxOpenConns = 20

// Open connects to the database at url (postgres://…). Parameters of the
// URL that pgx does not know, such as search_path, are sent as run-time
// parameters of every connection.
func Open(ctx context.Context, databaseURL string) (*sql.DB, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL) // validates the URL early
	if err != nil {
		return nil, fmt.Errorf("postgres: bad database URL %s: %w", Redact(databaseURL), err)
	}
	db := stdlib.OpenDB(*cfg.ConnConfig)
	db.SetMaxOpenConns(MaxOpenConns)
	// As many idle as open: with fewer, a busy pool closes connections
	// only to open them again, each time a TLS handshake and a SCRAM
	// login (bench/sms on PostgreSQL spent its time connecting: 60-80
	// SendTextMessage/s). Idle ones still go after 5 minutes.
	db.SetMaxIdleConns(MaxOpenConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: connect to %s: %w", Redact(databaseURL), err)
	}
	return db, nil
}

// ListenPool returns a small pgx pool over the same URL for River's
// LISTEN/NOTIFY (database/sql cannot listen); River keeps one connection
// of it per working client.
func ListenPool(ctx context.Context, databaseURL string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: bad database URL %s: %w", Redact(databaseURL), err)
	}
	cfg.MaxConns = 2
	cfg.MinConns = 0
	return pgxpool.NewWithConfig(ctx, cfg)
}

// Redact returns u with its password replaced, for messages.
func Redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return p.Redacted()
}

// Dialect is the PostgreSQL sqlstore.Dialect.
type Dialect struct{}

func (Dialect) Name() string { return "postgres" }

// Rebind turns each ? into $1, $2, …
func (Dialect) Rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

func pgErr(err error) (*pgconn.PgError, bool) {
	var e *pgconn.PgError
	ok := errors.As(err, &e)
	return e, ok
}

func (Dialect) UniqueViolation(err error) (string, bool) {
	if e, ok := pgErr(err); ok && e.Code == "23505" {
		return e.ConstraintName, true
	}
	return "", false
}

func (Dialect) ForeignKeyViolation(err error) bool {
	e, ok := pgErr(err)
	return ok && e.Code == "23503"
}

// Transient: serialization failures and deadlocks (class 40), lock
// timeouts (55P03), too many connections or out of resources (class 53),
// shutdown (57P01–57P03), lost connections (class 08), and connections
// that could not be made at all.
func (Dialect) Transient(err error) bool {
	if e, ok := pgErr(err); ok {
		switch {
		case strings.HasPrefix(e.Code, "40"), strings.HasPrefix(e.Code, "53"), strings.HasPrefix(e.Code, "08"),
			e.Code == "55P03", e.Code == "57P01", e.Code == "57P02", e.Code == "57P03":
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err)
}

func (Dialect) HasPrefix(column string) string { return "starts_with(" + column + ", ?)" }

// LockMigrations takes a session advisory lock keyed by the current schema,
// so that processes migrating one schema go one at a time while tests, each
// in a schema of its own, do not wait on each other.
// The lock is held by a connection of its own, kept until unlock.
func (Dialect) LockMigrations(ctx context.Context, db *sql.DB) (func(context.Context) error, error) {
	const key = `hashtext('tidings.migrate.' || current_schema())`
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(`+key+`)`); err != nil {
		conn.Close()
		return nil, err
	}
	return func(ctx context.Context) error {
		_, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock(`+key+`)`)
		return errors.Join(err, conn.Close())
	}, nil
}

func (Dialect) Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err)
	}
	return sub
}
