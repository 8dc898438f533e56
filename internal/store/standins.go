package store

import "github.com/tidings/tidings/internal/standins"

// Standins returns the store of the secrets, functions and mailboxes that
// stand in for AWS services Tidings does not serve.
func (db *DB) Standins() standins.Store { return db.store.Standins() }
