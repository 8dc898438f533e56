package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/tidings/tidings/internal/config"
	"github.com/tidings/tidings/internal/sending"
	"github.com/tidings/tidings/internal/store"
)

// newIdentities acts on the SES identities directly in the database, as
// `queue` does; it works beside a running server.
func newIdentities() *cobra.Command {
	cfg := &config.Config{}
	cmd := &cobra.Command{
		Use:   "identities",
		Short: "Act on the email identities of the send APIs",
	}
	for _, v := range cfg.Vars() {
		switch v.Env {
		case "TIDINGS_DATA_DIR", "TIDINGS_DATABASE_URL", "TIDINGS_ACCOUNT_ID":
			bindFlag(cmd.PersistentFlags(), v)
		default:
			*v.Ptr = v.Default
		}
	}
	var acct string
	verify := &cobra.Command{
		Use:   "verify IDENTITY",
		Short: "Mark an email address or domain identity verified, without the DNS check or confirmation link",
		Long: `Mark an identity verified (and its DKIM and MAIL FROM domain checks
successful), as an operator who knows the DNS records are in place, or for
tests. The identity must exist (sesv2 create-email-identity). Senders see it
SUCCESS at once; messages from a domain identity are DKIM-signed from then on.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cfg.Validate(); err != nil {
				return err
			}
			db, err := store.Open(cmd.Context(), cfg.DatabaseURL, cfg.DataDir, slog.New(slog.DiscardHandler))
			if err != nil {
				return err
			}
			defer db.Close()
			if acct == "" {
				acct = cfg.AccountID
			}
			if err := sending.MarkVerified(cmd.Context(), db.Sending(), acct, args[0], time.Now()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s verified (account %s)\n", args[0], acct)
			return nil
		},
	}
	verify.Flags().StringVar(&acct, "account", "", "account owning the identity (default: --account-id, the root account)")
	cmd.AddCommand(verify)
	return cmd
}
