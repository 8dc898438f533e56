package store

import "github.com/tidings/tidings/internal/registrations"

// Registrations returns the store of number registrations: registrations
// with their versions and field values, attachments and associations.
func (db *DB) Registrations() registrations.Store { return db.store.Registrations() }
