package main

import (
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tidings/tidings/internal/config"
	"github.com/tidings/tidings/internal/iam"
	"github.com/tidings/tidings/internal/store"
)

// newKeys manages access keys directly in the database: it is how an
// operator gets a key without one (after losing the printed root key).
func newKeys() *cobra.Command {
	cfg := &config.Config{}
	keys := &cobra.Command{
		Use:   "keys",
		Short: "Create, list and delete the access keys of an account",
		Long: `Manage access keys in the database named by --data-dir / --database-url
(the same settings as "tidings serve"; it may be running).`,
	}
	open := bindDatabase(keys, cfg)

	create := &cobra.Command{
		Use:   "create",
		Short: "Create an access key for --account-id and print it (the secret is shown only now)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := open(cmd)
			if err != nil {
				return err
			}
			defer db.Close()
			st := db.IAM()
			if err := st.EnsureAccount(cmd.Context(), iam.Account{ID: cfg.AccountID, CreatedAt: time.Now()}); err != nil {
				return err
			}
			k := iam.NewAccessKey(cfg.AccountID)
			if err := st.CreateAccessKey(cmd.Context(), k); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "export AWS_ACCESS_KEY_ID=%s\n", k.AccessKeyID)
			fmt.Fprintf(w, "export AWS_SECRET_ACCESS_KEY=%s\n", k.SecretAccessKey)
			return nil
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the access keys of --account-id",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := open(cmd)
			if err != nil {
				return err
			}
			defer db.Close()
			ks, err := db.IAM().ListAccessKeys(cmd.Context(), cfg.AccountID)
			if err != nil {
				return err
			}
			printKeys(cmd.OutOrStdout(), ks)
			return nil
		},
	}
	del := &cobra.Command{
		Use:   "delete ACCESS_KEY_ID",
		Short: "Delete an access key; requests signed with it fail from then on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := open(cmd)
			if err != nil {
				return err
			}
			defer db.Close()
			if err := db.IAM().DeleteAccessKey(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted %s\n", args[0])
			return nil
		},
	}
	keys.AddCommand(create, list, del)
	return keys
}

// bindDatabase gives cmd and its subcommands the flags naming the
// database and the account (--data-dir, --database-url, --account-id, as
// "tidings serve" has them) and returns how to open that database.
func bindDatabase(cmd *cobra.Command, cfg *config.Config) func(*cobra.Command) (*store.DB, error) {
	for _, v := range cfg.Vars() {
		switch v.Env {
		case "TIDINGS_DATA_DIR", "TIDINGS_DATABASE_URL", "TIDINGS_ACCOUNT_ID":
			bindFlag(cmd.PersistentFlags(), v)
		default:
			*v.Ptr = v.Default
		}
	}
	return func(cmd *cobra.Command) (*store.DB, error) {
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		return store.Open(cmd.Context(), cfg.DatabaseURL, cfg.DataDir, slog.New(slog.DiscardHandler))
	}
}

func printKeys(w io.Writer, ks []iam.AccessKey) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCESS KEY ID\tACCOUNT\tSTATUS\tCREATED")
	for _, k := range ks {
		status := k.Status
		if status == "" {
			status = iam.StatusActive
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.AccessKeyID, k.AccountID, status, k.CreatedAt.UTC().Format(time.RFC3339))
	}
	tw.Flush()
}
