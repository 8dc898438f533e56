package store

import "github.com/tidings/tidings/internal/templates"

// Templates returns the store of SES email templates.
func (db *DB) Templates() templates.Store { return db.store.Templates() }
