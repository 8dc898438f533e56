package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tidings/tidings/internal/config"
	"github.com/tidings/tidings/internal/iam"
)

// newRoles manages IAM roles directly in the database, as `tidings keys`
// manages access keys: roles are identities, which an operator sets up
// rather than an API caller.
func newRoles() *cobra.Command {
	cfg := &config.Config{}
	roles := &cobra.Command{
		Use:   "roles",
		Short: "Create, list and delete the IAM roles callers assume with STS AssumeRole",
		Long: `Manage IAM roles in the database named by --data-dir / --database-url
(the same settings as "tidings serve"; it may be running).

A role arn:aws:iam::ACCOUNT:role/NAME is assumed with STS AssumeRole by the
callers of its own account and of the accounts given with --trust; the
temporary credentials it returns act as the role's account in every API
(SES identities, quotas and sandbox are that account's).`,
	}
	open := bindDatabase(roles, cfg)
	roles.PersistentFlags().Lookup("account-id").Usage = "12-digit id of the role's account; --account works too ($TIDINGS_ACCOUNT_ID)"
	// --account is --account-id.
	roles.SetGlobalNormalizationFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if name == "account" {
			name = "account-id"
		}
		return pflag.NormalizedName(name)
	})

	var (
		trust      []string
		maxSession int
	)
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a role of --account (NAME may carry a path: service/NAME) and print its ARN",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := iam.NewRole(cfg.AccountID, args[0], trust, time.Duration(maxSession)*time.Second)
			if err != nil {
				return err
			}
			db, err := open(cmd)
			if err != nil {
				return err
			}
			defer db.Close()
			st := db.IAM()
			if err := st.EnsureAccount(cmd.Context(), iam.Account{ID: r.AccountID, CreatedAt: time.Now()}); err != nil {
				return err
			}
			if err := st.CreateRole(cmd.Context(), *r); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), r.ARN())
			return nil
		},
	}
	create.Flags().StringSliceVar(&trust, "trust", nil, "account id whose callers may assume the role besides its own (repeatable, or comma-separated)")
	create.Flags().IntVar(&maxSession, "max-session-duration", int(iam.DefaultMaxSessionDuration/time.Second),
		"longest session AssumeRole may ask for, in seconds (3600 to 43200)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List the roles of every account, or of --account",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := open(cmd)
			if err != nil {
				return err
			}
			defer db.Close()
			account := ""
			if cmd.Flags().Changed("account-id") {
				account = cfg.AccountID
			}
			rs, err := db.IAM().ListRoles(cmd.Context(), account)
			if err != nil {
				return err
			}
			printRoles(cmd.OutOrStdout(), rs)
			return nil
		},
	}
	del := &cobra.Command{
		Use:   "delete NAME|ARN",
		Short: "Delete a role of --account (or the role an ARN names); its temporary credentials stop working",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			account, name := cfg.AccountID, args[0]
			if strings.HasPrefix(name, "arn:") {
				a, _, n, err := iam.ParseRoleARN(name)
				if err != nil {
					return err
				}
				account, name = a, n
			} else if i := strings.LastIndexByte(name, '/'); i >= 0 {
				name = name[i+1:] // names are unique whatever the path
			}
			db, err := open(cmd)
			if err != nil {
				return err
			}
			defer db.Close()
			if err := db.IAM().DeleteRole(cmd.Context(), account, name); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted %s\n", args[0])
			return nil
		},
	}
	roles.AddCommand(create, list, del)
	return roles
}

func printRoles(w io.Writer, rs []iam.Role) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ARN\tROLE ID\tTRUSTED ACCOUNTS\tMAX SESSION\tCREATED")
	for _, r := range rs {
		trusted := append([]string{r.AccountID}, r.TrustedAccounts...)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", r.ARN(), r.RoleID, strings.Join(trusted, ","),
			int(r.MaxSessionDuration/time.Second), r.CreatedAt.UTC().Format(time.RFC3339))
	}
	tw.Flush()
}
