package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/tidings/tidings/internal/config"
	"github.com/tidings/tidings/internal/console"
	"github.com/tidings/tidings/internal/iam"
	"github.com/tidings/tidings/internal/store"
)

// newConsole manages the web console's passwords directly in the
// database, as `tidings keys` does for access keys.
func newConsole() *cobra.Command {
	cfg := &config.Config{}
	cmd := &cobra.Command{
		Use:   "console",
		Short: "Manage the web console (/console on the HTTP address)",
		Long: `Manage the web console's login passwords in the database named by
--data-dir / --database-url (the same settings as "tidings serve"; it may be
running). One logs in to the console with an access key pair, or with an
account ID and the console password set here.`,
	}
	for _, v := range cfg.Vars() {
		switch v.Env {
		case "TIDINGS_DATA_DIR", "TIDINGS_DATABASE_URL":
			bindFlag(cmd.PersistentFlags(), v)
		case "TIDINGS_ACCOUNT_ID":
			*v.Ptr = v.EnvDefault()
		default:
			*v.Ptr = v.Default
		}
	}
	var account string
	set := &cobra.Command{
		Use:   "set-password",
		Short: "Set the console password of an account (read from the terminal, or the first line of stdin)",
		Long: fmt.Sprintf(`Set the console password of --account (default: the root account,
$TIDINGS_ACCOUNT_ID). The password is read without echo from a terminal
(twice), or as the first line of standard input otherwise; it needs at
least %d characters. It is stored as an argon2id hash; setting it again
replaces it. Sessions already open stay open until they expire.`, console.MinPasswordLen),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if account == "" {
				account = cfg.AccountID
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			if !console.IsAccountID(account) {
				return fmt.Errorf("--account %q: want a 12-digit account ID", account)
			}
			password, err := readPassword(cmd.InOrStdin(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			hash, err := console.HashPassword(password)
			if err != nil {
				return err
			}
			db, err := store.Open(cmd.Context(), cfg.DatabaseURL, cfg.DataDir, slog.New(slog.DiscardHandler))
			if err != nil {
				return err
			}
			defer db.Close()
			st := db.IAM()
			if err := st.EnsureAccount(cmd.Context(), iam.Account{ID: account, CreatedAt: time.Now()}); err != nil {
				return err
			}
			if err := st.PutSetting(cmd.Context(), console.PasswordSetting(account), hash); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "console password of account %s set\n", account)
			return nil
		},
	}
	set.Flags().StringVar(&account, "account", "", "12-digit account ID (default $TIDINGS_ACCOUNT_ID, the root account)")
	cmd.AddCommand(set)
	return cmd
}

// readPassword reads a password: from a terminal without echo, twice; else
// the first line of in.
func readPassword(in io.Reader, prompt io.Writer) (string, error) {
	if f, ok := in.(*os.File); ok {
		if old, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err == nil {
			noEcho := *old
			noEcho.Lflag &^= unix.ECHO
			noEcho.Lflag |= unix.ICANON
			if err := unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, &noEcho); err != nil {
				return "", err
			}
			defer func() { _ = unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, old) }()
			br := bufio.NewReader(f)
			fmt.Fprint(prompt, "New console password: ")
			p1, err := readLine(br)
			fmt.Fprintln(prompt)
			if err != nil {
				return "", err
			}
			fmt.Fprint(prompt, "Again: ")
			p2, err := readLine(br)
			fmt.Fprintln(prompt)
			if err != nil {
				return "", err
			}
			if p1 != p2 {
				return "", errors.New("the passwords differ")
			}
			return p1, nil
		}
	}
	p, err := readLine(bufio.NewReader(in))
	if err != nil {
		return "", err
	}
	return p, nil
}

func readLine(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", errors.New("no password given on standard input")
		}
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}
