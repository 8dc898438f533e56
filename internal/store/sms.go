package store

import "github.com/tidings/tidings/internal/sms"

// SMS returns the store of End User Messaging SMS and voice.
func (db *DB) SMS() sms.Store { return db.store.SMS() }
