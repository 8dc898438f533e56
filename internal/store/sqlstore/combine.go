package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/tidings/tidings/internal/durable"
)

// Lazy transactions (package durable: a delivery's outcome, a step of a
// message's processing) are many, small, and on SQLite all wait for the
// one writer connection. Those that wait while the writer is busy are run
// together, in one transaction of their own when the writer is free: each
// in a savepoint, so that one failing rolls back only its own work and
// reports its own error, and the others commit. Their commit needs no
// fsync, so what combining saves is the writer's time: one BEGIN and
// COMMIT, and one turn of the connection, for many.

// lazyCall is a lazy transaction waiting for the writer.
type lazyCall struct {
	ctx context.Context
	fn  func(*sql.Tx) error
	err error // fn's, once run in a batch of several
}

// inTx runs fn in a write transaction: combined with the other lazy ones
// where ctx is lazy and the database has one writer, else on its own
// (writeTx).
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	if s.combines(ctx) {
		return s.combined(ctx, fn)
	}
	return s.writeTx(ctx, fn)
}

// combined runs fn as a lazy transaction, combined with the others waiting.
func (s *Store) combined(ctx context.Context, fn func(*sql.Tx) error) error {
	c := &lazyCall{ctx: ctx, fn: fn}
	if err := s.lazy.Do(c); err != nil {
		return err
	}
	return c.err
}

// runLazy is the commit of s.lazy. A batch of one is an ordinary
// transaction; in a larger one, an error of a call is kept in the call
// and only a failure of the transaction itself (BEGIN, COMMIT, a
// savepoint) fails the batch, which groupcommit then runs one call at a
// time.
func (s *Store) runLazy(batch []*lazyCall) error {
	if len(batch) == 1 {
		c := batch[0]
		c.err = nil
		return s.writeTx(c.ctx, c.fn)
	}
	ctx, cancel := context.WithTimeout(durable.Lazy(context.Background()), 30*time.Second)
	defer cancel()
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		for _, c := range batch {
			if _, err := tx.ExecContext(ctx, `SAVEPOINT lazy_call`); err != nil {
				return err
			}
			c.err = c.fn(tx)
			if c.err != nil {
				if _, err := tx.ExecContext(ctx, `ROLLBACK TO lazy_call`); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, `RELEASE lazy_call`); err != nil {
				return err
			}
		}
		return nil
	})
}

// combines reports whether a transaction with ctx is to be combined:
// lazy, on a database with one writer.
func (s *Store) combines(ctx context.Context) bool {
	return s.lazy != nil && durable.IsLazy(ctx)
}
