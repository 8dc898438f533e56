package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Idempotency remembers the answers to requests that carried a client token
// (awsapi.IdempotencyStore).
type Idempotency struct{ s *Store }

// Idempotency returns the idempotency store.
func (s *Store) Idempotency() *Idempotency { return &Idempotency{s} }

func (m *Idempotency) Remembered(ctx context.Context, accountID, key string) (string, []byte, bool, error) {
	var (
		hash string
		resp []byte
	)
	err := m.s.rdb.QueryRowContext(ctx, m.s.q(`SELECT request_hash, response FROM idempotency WHERE account_id = ? AND key = ?`),
		accountID, key).Scan(&hash, &resp)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, false, nil
	}
	if err != nil {
		return "", nil, false, m.s.wrap(err, "remembered")
	}
	if resp == nil {
		resp = []byte{}
	}
	return hash, resp, true, nil
}

// Remember stores the answer to key. When two requests with one token race,
// the first answer stored is kept, so every later retry gets that one.
func (m *Idempotency) Remember(ctx context.Context, accountID, key, requestHash string, response []byte, at time.Time) error {
	if response == nil {
		response = []byte{}
	}
	_, err := m.s.execWrite(ctx, "remember", `INSERT INTO idempotency (account_id, key, request_hash, response, created_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (account_id, key) DO NOTHING`,
		accountID, key, requestHash, response, ms(stored(at, time.Now())))
	return err
}

// Purge forgets the answers remembered before cutoff and says how many.
// Run it from a periodic job.
func (m *Idempotency) Purge(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := m.s.execWrite(ctx, "purge idempotency", `DELETE FROM idempotency WHERE created_at < ?`, ms(cutoff))
	if err != nil {
		return 0, err
	}
	return affected(res), nil
}
