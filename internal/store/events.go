package store

import "github.com/tidings/tidings/internal/events"

// Events returns the store of topics, webhook subscriptions, the event log
// and deliveries.
func (db *DB) Events() events.Store { return db.store.Events() }
