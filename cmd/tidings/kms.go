package main

import (
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tidings/tidings/internal/config"
	"github.com/tidings/tidings/internal/kms"
	"github.com/tidings/tidings/internal/store"
)

// newKMS manages the keys archives are encrypted with, directly in the
// database, as `tidings keys` does: the keys are an operator's concern
// (AWS KMS is not an API Tidings serves), it works whether or not the
// server runs, and it needs the master key, which only the operator's
// side holds (the data dir or TIDINGS_MASTER_KEY).
func newKMS() *cobra.Command {
	cfg := &config.Config{}
	cmd := &cobra.Command{
		Use:   "kms",
		Short: "Create, list and rotate the keys that encrypt archives (KmsKeyArn)",
		Long: `Manage the keys Tidings encrypts archives with, in the database named by
--data-dir / --database-url (the same settings as "tidings serve"; it may be
running). A key's ARN is what CreateArchive takes as KmsKeyArn.

Key material is stored wrapped by the master key: TIDINGS_MASTER_KEY, or
<data dir>/master.key (created by the first "tidings serve" or command here).
Back the master key up apart from the database: without it, encrypted
archives cannot be read.`,
	}
	for _, v := range cfg.Vars() {
		switch v.Env {
		case "TIDINGS_DATA_DIR", "TIDINGS_DATABASE_URL", "TIDINGS_ACCOUNT_ID", "TIDINGS_REGION", "TIDINGS_MASTER_KEY":
			bindFlag(cmd.PersistentFlags(), v)
		default:
			*v.Ptr = v.Default
		}
	}
	open := func(c *cobra.Command) (*kms.Service, func(), error) {
		if err := cfg.Validate(); err != nil {
			return nil, nil, err
		}
		fromEnv, err := cfg.MasterKeyBytes()
		if err != nil {
			return nil, nil, err
		}
		master, generated, err := kms.MasterKey(cfg.DataDir, fromEnv)
		if err != nil {
			return nil, nil, err
		}
		if generated {
			fmt.Fprintf(c.ErrOrStderr(), "generated the master key in %s/%s: back it up apart from the database\n", cfg.DataDir, kms.MasterKeyFile)
		}
		db, err := store.Open(c.Context(), cfg.DatabaseURL, cfg.DataDir, slog.New(slog.DiscardHandler))
		if err != nil {
			return nil, nil, err
		}
		svc, err := kms.New(db.KMS(), kms.Config{Region: cfg.Region, MasterKey: master}, nil)
		if err != nil {
			db.Close()
			return nil, nil, err
		}
		return svc, func() { db.Close() }, nil
	}

	var alias, description string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a key for --account-id and print its ARN",
		Args:  cobra.NoArgs,
		RunE: withKMS(open, func(c *cobra.Command, svc *kms.Service, _ []string) error {
			k, err := svc.CreateKey(c.Context(), cfg.AccountID, alias, description)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.OutOrStdout(), k.ARN(cfg.Region))
			return nil
		}),
	}
	create.Flags().StringVar(&alias, "alias", "", "an alias for the key (alias/NAME names it too)")
	create.Flags().StringVar(&description, "description", "", "what the key is for")

	list := &cobra.Command{
		Use:   "list",
		Short: "List the keys of --account-id",
		Args:  cobra.NoArgs,
		RunE: withKMS(open, func(c *cobra.Command, svc *kms.Service, _ []string) error {
			ks, err := svc.ListKeys(c.Context(), cfg.AccountID)
			if err != nil {
				return err
			}
			printKMSKeys(c.OutOrStdout(), ks, cfg.Region)
			return nil
		}),
	}
	rotate := &cobra.Command{
		Use:   "rotate KEY",
		Short: "Give a key new material for the data keys made from now on (by ARN, key ID or alias/NAME); old mail is not re-encrypted and stays readable",
		Args:  cobra.ExactArgs(1),
		RunE: withKMS(open, func(c *cobra.Command, svc *kms.Service, args []string) error {
			k, err := svc.RotateKey(c.Context(), cfg.AccountID, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "rotated %s: version %d is current (a running server uses it within a minute)\n", k.ARN(cfg.Region), k.CurrentVersion)
			return nil
		}),
	}
	cmd.AddCommand(create, list, rotate)
	return cmd
}

func printKMSKeys(w io.Writer, ks []*kms.Key, region string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ARN\tALIAS\tVERSION\tCREATED\tROTATED\tDESCRIPTION")
	for _, k := range ks {
		alias, rotated := "-", "-"
		if k.Alias != "" {
			alias = "alias/" + k.Alias
		}
		if !k.RotatedAt.IsZero() {
			rotated = k.RotatedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", k.ARN(region), alias, k.CurrentVersion, k.CreatedAt.Format(time.RFC3339), rotated, k.Description)
	}
	tw.Flush()
}

// withKMS runs fn with the key service open gives, closing it after.
func withKMS(open func(*cobra.Command) (*kms.Service, func(), error),
	fn func(c *cobra.Command, svc *kms.Service, args []string) error) func(*cobra.Command, []string) error {
	return func(c *cobra.Command, args []string) error {
		svc, done, err := open(c)
		if err != nil {
			return err
		}
		defer done()
		return fn(c, svc, args)
	}
}
