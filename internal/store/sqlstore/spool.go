package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/tidings/tidings/internal/fault"
)

// The copies of spooled messages small enough for the database
// (blob.InlineMax), shared by the gateway's spool and the send queue:
// table spool_content, by the key the blob would have.

// putSpoolContent stores the copy of key inside tx.
func (s *Store) putSpoolContent(ctx context.Context, tx querier, key string, content []byte) error {
	if key == "" {
		return fault.Invalidf("a spooled copy needs a key")
	}
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO spool_content (key, content) VALUES (?, ?)`), key, gwBytes(content))
	if u, ok := s.d.UniqueViolation(err); ok {
		return fault.Conflictf("a spooled copy %s exists already (%s)", key, u)
	}
	return s.wrap(err, "store spooled copy")
}

// deleteSpoolContent removes the copy of key, if the database has it.
func (s *Store) deleteSpoolContent(ctx context.Context, tx querier, key string) error {
	if key == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, s.q(`DELETE FROM spool_content WHERE key = ?`), key)
	return s.wrap(err, "delete spooled copy")
}

// spoolContent reads the copy of key: fault.NotFound when the database
// does not hold it (it is in the blob store, or gone).
func (s *Store) spoolContent(ctx context.Context, q querier, key string) ([]byte, error) {
	var b []byte
	err := q.QueryRowContext(ctx, s.q(`SELECT content FROM spool_content WHERE key = ?`), key).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &fault.Error{Kind: fault.NotFound, Message: "no spooled copy " + key + " in the database", ResourceType: "spooled-copy", ResourceID: key}
	}
	return b, s.wrap(err, "read spooled copy")
}
