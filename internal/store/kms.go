package store

import "github.com/tidings/tidings/internal/kms"

// KMS returns the store of the keys Tidings manages and the data keys they
// wrap.
func (db *DB) KMS() kms.Store { return db.store.KMS() }
