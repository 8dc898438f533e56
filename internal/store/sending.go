package store

import "github.com/tidings/tidings/internal/sending"

// Sending returns the store of outbound email: identities, configuration
// sets, account settings, the suppression list and accepted messages.
func (db *DB) Sending() sending.Store { return db.store.Sending() }
