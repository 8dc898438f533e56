package store

import "github.com/tidings/tidings/internal/archive"

// Archive returns the store of the email archive: message metadata, the
// full-text index (FTS5 on SQLite, tsvector on PostgreSQL), searches and
// exports.
func (db *DB) Archive() archive.Store { return db.store.Archive() }
