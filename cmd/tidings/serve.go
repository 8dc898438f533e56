package main

import (
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
			return app.Serve(cmd.Context(), cfg, log, cmd.OutOrStdout(), versionString())
		},
	}
	bindConfig(cmd, cfg)
	return cmd
}
