package store

import "github.com/tidings/tidings/internal/console"

// ConsoleSessions returns the store of the web console's sessions.
func (db *DB) ConsoleSessions() console.SessionStore { return db.store.ConsoleSessions() }
