package app

import (
	"log/slog"
	"net/http"

	"github.com/tidings/tidings/internal/archive"
	"github.com/tidings/tidings/internal/blob"
	"github.com/tidings/tidings/internal/config"
	"github.com/tidings/tidings/internal/console"
	"github.com/tidings/tidings/internal/mailmanager"
	"github.com/tidings/tidings/internal/store"
)

// mountConsole serves the web console at /console.
func mountConsole(mux *http.ServeMux, cfg *config.Config, db *store.DB, mail *mailmanager.Service,
	arch *archive.Service, blobs blob.Store, log *slog.Logger) error {
	idle, absolute, err := cfg.ConsoleSessions()
	if err != nil {
		return err
	}
	c, err := console.New(console.Config{
		Credentials: db.IAM(),
		Sessions:    db.ConsoleSessions(),
		Archives:    mail,
		Archive:     arch,
		Blobs:       blobs,
		IdleTimeout: idle,
		MaxAge:      absolute,
		Logger:      log.With("component", "console"),
	})
	if err != nil {
		return err
	}
	mux.Handle(console.Prefix+"/", c)
	mux.Handle("GET "+console.Prefix, http.RedirectHandler(console.Prefix+"/", http.StatusMovedPermanently))
	return nil
}
