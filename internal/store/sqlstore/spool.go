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

// dropSpoolContent removes the database's copy of a message, if it has
// one: the copy under the blob key the message's row holds. blobKeyOf is
// a query selecting that key by the message's id, from a constant.
func (s *Store) dropSpoolContent(ctx context.Context, tx querier, blobKeyOf, id string) error {
	_, err := tx.ExecContext(ctx, s.q(`DELETE FROM spool_content WHERE key = (`+blobKeyOf+`)`), id)
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
