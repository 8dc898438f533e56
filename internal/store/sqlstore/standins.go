package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/tidings/tidings/internal/standins"
)

// StandinsStore is the standins.Store over the database.
type StandinsStore struct{ s *Store }

var _ standins.Store = StandinsStore{}

// Standins returns the store of secrets, functions and mailboxes.
func (s *Store) Standins() StandinsStore { return StandinsStore{s} }

func (ss StandinsStore) Put(ctx context.Context, e *standins.Entry) (bool, error) {
	s := ss.s
	now := time.Now()
	created, updated := stored(e.CreatedAt, now), stored(e.UpdatedAt, now)
	var (
		outCreated int64
		isNew      bool
	)
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, s.q(`SELECT created_at FROM standins WHERE account_id = ? AND kind = ? AND name = ?`),
			e.AccountID, string(e.Kind), e.Name).Scan(&outCreated)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			isNew, outCreated = true, ms(created)
			_, err = tx.ExecContext(ctx, s.q(`INSERT INTO standins (account_id, kind, name, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`),
				e.AccountID, string(e.Kind), e.Name, e.Body, ms(created), ms(updated))
			return s.wrap(err, "insert stand-in")
		case err != nil:
			return s.wrap(err, "read stand-in")
		}
		_, err = tx.ExecContext(ctx, s.q(`UPDATE standins SET body = ?, updated_at = ? WHERE account_id = ? AND kind = ? AND name = ?`),
			e.Body, ms(updated), e.AccountID, string(e.Kind), e.Name)
		return s.wrap(err, "update stand-in")
	})
	if err != nil {
		return false, err
	}
	e.CreatedAt, e.UpdatedAt = fromMS(outCreated), updated
	return isNew, nil
}

func scanStandin(sc interface{ Scan(...any) error }) (*standins.Entry, error) {
	var (
		e                standins.Entry
		kind             string
		created, updated int64
	)
	if err := sc.Scan(&e.AccountID, &kind, &e.Name, &e.Body, &created, &updated); err != nil {
		return nil, err
	}
	e.Kind, e.CreatedAt, e.UpdatedAt = standins.Kind(kind), fromMS(created), fromMS(updated)
	return &e, nil
}

const standinCols = `account_id, kind, name, body, created_at, updated_at`

func (ss StandinsStore) Get(ctx context.Context, accountID string, k standins.Kind, name string) (*standins.Entry, error) {
	s := ss.s
	e, err := scanStandin(s.rdb.QueryRowContext(ctx, s.q(`SELECT `+standinCols+` FROM standins WHERE account_id = ? AND kind = ? AND name = ?`),
		accountID, string(k), name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(string(k), name, "%s %s does not exist", k, name)
	}
	return e, s.wrap(err, "get stand-in")
}

func (ss StandinsStore) List(ctx context.Context, accountID string, k standins.Kind) ([]*standins.Entry, error) {
	s := ss.s
	rows, err := s.rdb.QueryContext(ctx, s.q(`SELECT `+standinCols+` FROM standins WHERE account_id = ? AND kind = ? ORDER BY name`), accountID, string(k))
	if err != nil {
		return nil, s.wrap(err, "list stand-ins")
	}
	defer rows.Close()
	var out []*standins.Entry
	for rows.Next() {
		e, err := scanStandin(rows)
		if err != nil {
			return nil, s.wrap(err, "list stand-ins")
		}
		out = append(out, e)
	}
	return out, s.wrap(rows.Err(), "list stand-ins")
}

func (ss StandinsStore) Delete(ctx context.Context, accountID string, k standins.Kind, name string) error {
	s := ss.s
	res, err := s.execWrite(ctx, "delete stand-in", `DELETE FROM standins WHERE account_id = ? AND kind = ? AND name = ?`, accountID, string(k), name)
	if err != nil {
		return err
	}
	if affected(res) == 0 {
		return notFound(string(k), name, "%s %s does not exist", k, name)
	}
	return nil
}
