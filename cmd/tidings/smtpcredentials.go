package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/tidings/tidings/internal/config"
	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/iam"
	"github.com/tidings/tidings/internal/store"
)

// newSMTPCredentials prints the SMTP credentials of an access key, derived
// as Amazon SES derives them, for the SMTP submission listeners.
func newSMTPCredentials() *cobra.Command {
	cfg := &config.Config{}
	cmd := &cobra.Command{
		Use:   "smtp-credentials [ACCESS_KEY_ID]",
		Short: "Print the SMTP user name and password of an access key (default: the root key)",
		Long: `Print the credentials for SMTP submission (TIDINGS_SUBMISSION_ADDR with
STARTTLS, TIDINGS_SUBMISSIONS_ADDR with implicit TLS) of an access key in the
database named by --data-dir / --database-url (the same settings as
"tidings serve"; it may be running). As with Amazon SES, the user name is the
access key id and the password is derived from its secret and the region
(--region), so the password SES's documented script computes for the same key
and region works here, and a password works only in its region.

Without ACCESS_KEY_ID it uses the root key: TIDINGS_ROOT_ACCESS_KEY_ID, or the
one generated at first start.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cfg.Validate(); err != nil {
				return err
			}
			db, err := store.Open(cmd.Context(), cfg.DatabaseURL, cfg.DataDir, slog.New(slog.DiscardHandler))
			if err != nil {
				return err
			}
			defer db.Close()
			st := db.IAM()
			id := ""
			switch {
			case len(args) == 1:
				id = args[0]
			case os.Getenv("TIDINGS_ROOT_ACCESS_KEY_ID") != "":
				id = os.Getenv("TIDINGS_ROOT_ACCESS_KEY_ID")
			default:
				v, found, err := st.GetSetting(cmd.Context(), "root-key-generated")
				if err != nil {
					return err
				}
				if !found {
					return errors.New("no root key yet (start \"tidings serve\" once); or name an access key: tidings smtp-credentials ACCESS_KEY_ID")
				}
				id = v
			}
			k, err := st.GetAccessKey(cmd.Context(), id)
			switch {
			case fault.Is(err, fault.NotFound):
				return fmt.Errorf("no access key %s (see \"tidings keys list\")", id)
			case err != nil:
				return err
			case k.Status != "" && k.Status != iam.StatusActive:
				return fmt.Errorf("the access key %s is %s: it cannot authenticate", id, k.Status)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "SMTP username: %s\n", k.AccessKeyID)
			fmt.Fprintf(w, "SMTP password: %s\n", iam.SMTPPassword(k.SecretAccessKey, cfg.Region))
			fmt.Fprintf(w, "Region:        %s (the password is valid in this region only)\n", cfg.Region)
			return nil
		},
	}
	for _, v := range cfg.Vars() {
		switch v.Env {
		case "TIDINGS_DATA_DIR", "TIDINGS_DATABASE_URL", "TIDINGS_REGION":
			bindFlag(cmd.Flags(), v)
		default:
			*v.Ptr = v.Default
		}
	}
	return cmd
}
