package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/tidings/tidings/internal/console"
)

// ConsoleSessions is the store of the web console's sessions.
type ConsoleSessions struct{ s *Store }

var _ console.SessionStore = ConsoleSessions{}

// ConsoleSessions returns the store of console sessions.
func (s *Store) ConsoleSessions() ConsoleSessions { return ConsoleSessions{s} }

func (m ConsoleSessions) CreateSession(ctx context.Context, cs *console.Session) error {
	_, err := m.s.execWrite(ctx, "create console session", `INSERT INTO console_sessions
		(id_hash, account_id, access_key_id, method, csrf, created_at, seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		cs.Key, cs.AccountID, cs.AccessKeyID, cs.Method, cs.CSRF, ms(cs.CreatedAt), ms(cs.SeenAt))
	return err
}

func (m ConsoleSessions) GetSession(ctx context.Context, key string) (*console.Session, error) {
	cs := console.Session{Key: key}
	var created, seen int64
	err := m.s.rdb.QueryRowContext(ctx, m.s.q(`SELECT account_id, access_key_id, method, csrf, created_at, seen_at
		FROM console_sessions WHERE id_hash = ?`), key).
		Scan(&cs.AccountID, &cs.AccessKeyID, &cs.Method, &cs.CSRF, &created, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("console-session", "", "no such console session")
	}
	if err != nil {
		return nil, m.s.wrap(err, "get console session")
	}
	cs.CreatedAt, cs.SeenAt = fromMS(created), fromMS(seen)
	return &cs, nil
}

func (m ConsoleSessions) TouchSession(ctx context.Context, key string, seen time.Time) error {
	_, err := m.s.execWrite(ctx, "touch console session", `UPDATE console_sessions SET seen_at = ? WHERE id_hash = ? AND seen_at < ?`,
		ms(seen), key, ms(seen))
	return err
}

func (m ConsoleSessions) DeleteSession(ctx context.Context, key string) error {
	_, err := m.s.execWrite(ctx, "delete console session", `DELETE FROM console_sessions WHERE id_hash = ?`, key)
	return err
}

func (m ConsoleSessions) DeleteExpiredSessions(ctx context.Context, seenBefore, createdBefore time.Time) (int64, error) {
	res, err := m.s.execWrite(ctx, "delete expired console sessions",
		`DELETE FROM console_sessions WHERE seen_at < ? OR created_at < ?`, ms(seenBefore), ms(createdBefore))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return n, m.s.wrap(err, "delete expired console sessions")
}

func (m ConsoleSessions) AddSearch(ctx context.Context, r *console.SearchRecord, keep int) error {
	return m.s.writeTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, m.s.q(`INSERT INTO console_searches
			(account_id, archive_id, at, query, url, found, more) VALUES (?, ?, ?, ?, ?, ?, ?)`),
			r.AccountID, r.ArchiveID, ms(r.At), r.Query, r.URL, r.Found, r.More); err != nil {
			return m.s.wrap(err, "add console search")
		}
		_, err := tx.ExecContext(ctx, m.s.q(`DELETE FROM console_searches WHERE account_id = ? AND archive_id = ? AND seq <=
			(SELECT seq FROM console_searches WHERE account_id = ? AND archive_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)`),
			r.AccountID, r.ArchiveID, r.AccountID, r.ArchiveID, keep)
		return m.s.wrap(err, "forget old console searches")
	})
}

func (m ConsoleSessions) ListSearches(ctx context.Context, accountID, archiveID string, limit int) ([]console.SearchRecord, error) {
	rows, err := m.s.rdb.QueryContext(ctx, m.s.q(`SELECT at, query, url, found, more FROM console_searches
		WHERE account_id = ? AND archive_id = ? ORDER BY seq DESC LIMIT ?`), accountID, archiveID, limit)
	if err != nil {
		return nil, m.s.wrap(err, "list console searches")
	}
	defer rows.Close()
	var out []console.SearchRecord
	for rows.Next() {
		r := console.SearchRecord{AccountID: accountID, ArchiveID: archiveID}
		var at int64
		if err := rows.Scan(&at, &r.Query, &r.URL, &r.Found, &r.More); err != nil {
			return nil, m.s.wrap(err, "list console searches")
		}
		r.At = fromMS(at)
		out = append(out, r)
	}
	return out, m.s.wrap(rows.Err(), "list console searches")
}
