// Command tidings is the Tidings server and its operator tools.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tidings/tidings/internal/config"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRoot().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "tidings:", err)
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "tidings",
		Short: "Tidings: self-hosted email gateway, archive, sending and SMS, AWS-API compatible",
		Long: `Tidings runs an SMTP email gateway with rules and relays, an email archive,
an outbound email service and SMS/voice messaging in one binary. Its HTTP API
speaks the AWS wire protocols (SES v2 and v1, SES Mail Manager, End User
Messaging SMS/voice), so the AWS CLI, boto3 and the AWS SDKs work against it.

Start it with "tidings serve"; every setting has a TIDINGS_* environment
variable (see "tidings serve --help").`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServe(), newVersion(), newKeys(), newKMS(), newApply(), newQueue(), newTopics(), newRegistrations(), newConsole(), newIdentities(), newSecrets(), newFunctions(), newMailboxes(), newSMTPCredentials(), newRoles(), newARC())
	return root
}

// bindConfig registers every setting of cfg as a flag of cmd, defaulting to
// its environment variable.
func bindConfig(cmd *cobra.Command, cfg *config.Config) {
	for _, v := range cfg.Vars() {
		bindFlag(cmd.Flags(), v)
	}
}

// bindFlag registers v as a flag of fs defaulting to its environment
// variable. --help shows that default, except a secret's: a password or
// key taken from the environment must not land in a terminal or a log.
func bindFlag(fs *pflag.FlagSet, v config.Var) {
	fs.StringVar(v.Ptr, v.Flag, v.EnvDefault(), v.Usage+" ($"+v.Env+")")
	if f := fs.Lookup(v.Flag); f != nil && v.Secret() && f.DefValue != v.Default {
		f.DefValue = v.Default
	}
}

func newLogger(w io.Writer, cfg *config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" {
			if dirty {
				rev += "-dirty"
			}
			return "devel-" + rev
		}
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
	}
	return "devel"
}

func newVersion() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "tidings %s\n", versionString())
			return nil
		},
	}
}
