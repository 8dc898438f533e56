package main

import (
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/tidings/tidings/internal/app"
	"github.com/tidings/tidings/internal/config"
)

func newServe() *cobra.Command {
	cfg := &config.Config{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run every role: the HTTP API, the SMTP listeners and the workers",
		Long: `Run Tidings. With no settings it keeps its state in ./tidings-data (SQLite and
files), serves the API on http://127.0.0.1:8025 and prints the root access key
at first start. SIGTERM or Ctrl-C drains work in progress and exits.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.Validate(); err != nil {
				return err
			}
			log := newLogger(cmd.ErrOrStderr(), cfg)
			tuneGC()
			return app.Serve(cmd.Context(), cfg, log, cmd.OutOrStdout(), versionString())
		},
	}
	bindConfig(cmd, cfg)
	return cmd
}

// serverGCPercent is the garbage collector's target when GOGC is not set:
// the server's live heap is small (SQLite's page caches live outside it)
// and its garbage comes from requests, so collecting at 5× the live heap
// instead of 2× gives back most of the CPU the collector took (8% of
// bench/sms) for some tens of megabytes.
const serverGCPercent = 400

// tuneGC applies serverGCPercent unless the operator set GOGC.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serverGCPercent)
	}
}
