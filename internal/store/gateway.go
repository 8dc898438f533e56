package store

import "github.com/tidings/tidings/internal/gateway"

// Gateway returns the store of the gateway queue.
func (db *DB) Gateway() gateway.Store { return db.store.Gateway() }
