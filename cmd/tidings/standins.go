package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tidings/tidings/internal/standins"
)

// The stand-ins of AWS services Tidings does not serve (Secrets Manager,
// Lambda, WorkMail), managed through the /v1 API of a running server as
// `tidings topics` manages topics: the server seals secrets with the
// master key, which the CLI does not need.

const standinsCreds = `
Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (else
TIDINGS_ROOT_ACCESS_KEY_ID and TIDINGS_ROOT_SECRET_ACCESS_KEY); the endpoint
from --endpoint, else AWS_ENDPOINT_URL, else http://$TIDINGS_HTTP_ADDR.`

// standinCommand builds `tidings <use>` with list and delete; put is the
// caller's.
func standinCommand(use, short, long, path, listKey string, put func(call standinCall) *cobra.Command) *cobra.Command {
	var endpoint, region string
	var jsonOut bool
	cmd := &cobra.Command{Use: use, Short: short, Long: long + "\n" + standinsCreds}
	cmd.PersistentFlags().StringVar(&endpoint, "endpoint", "", "API endpoint URL")
	cmd.PersistentFlags().StringVar(&region, "region", "", "region (default $AWS_DEFAULT_REGION, $TIDINGS_REGION, us-east-1)")
	cmd.PersistentFlags().BoolVar(&jsonOut, "json", false, "print the API's JSON answer")
	call := func(c *cobra.Command, method, p string, in, out any) error {
		cl, err := apiClient(endpoint, region)
		if err != nil {
			return err
		}
		return cl.NativeJSON(c.Context(), method, p, standins.SigningName, in, out)
	}
	printInfo := func(c *cobra.Command, in standins.Info) {
		if jsonOut {
			printIndented(c.OutOrStdout(), in)
			return
		}
		fmt.Fprintln(c.OutOrStdout(), in.ARN)
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List them (names, ARNs, targets; never secret values)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			var out map[string][]standins.Info
			if err := call(c, "GET", path, nil, &out); err != nil {
				return err
			}
			if jsonOut {
				printIndented(c.OutOrStdout(), out)
				return nil
			}
			tw := tabwriter.NewWriter(c.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tTARGET\tUPDATED\tARN")
			for _, in := range out[listKey] {
				target := in.Target
				if in.Signed {
					target += " (signed)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", in.Name, target, in.UpdatedAt.UTC().Format(time.RFC3339), in.ARN)
			}
			return tw.Flush()
		},
	}
	del := &cobra.Command{
		Use:   "delete NAME|ARN",
		Short: "Delete one",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := call(c, "DELETE", path+"/"+escapeName(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "deleted %s\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(put(standinCall{call: call, print: printInfo, path: path}), list, del)
	return cmd
}

type standinCall struct {
	call  func(c *cobra.Command, method, path string, in, out any) error
	print func(c *cobra.Command, in standins.Info)
	path  string
}

func (s standinCall) put(c *cobra.Command, name string, in any) error {
	var out standins.Info
	if err := s.call(c, "PUT", s.path+"/"+escapeName(name), in, &out); err != nil {
		return err
	}
	s.print(c, out)
	return nil
}

// escapeName escapes each segment of a name (secret names may hold '/').
func escapeName(name string) string {
	segs := strings.Split(name, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

func printIndented(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func newSecrets() *cobra.Command {
	return standinCommand("secrets", "Store the secrets Mail Manager resources name by SecretArn (relay and AUTH ingress credentials)",
		`Secrets stand in for AWS Secrets Manager: a relay's Authentication.SecretArn
and an AUTH ingress point's IngressPointConfiguration.SecretArn name one,
as arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME (printed by put).
A secret is a JSON object of strings, as in Secrets Manager:

  relay          {"username": "…", "password": "…"}  (SMTP AUTH at the relay)
  AUTH ingress   {"password": "…"}                   (the password clients give)

The server stores it encrypted with the master key (TIDINGS_MASTER_KEY or
<data dir>/master.key); nothing ever prints it back. Putting a secret again
replaces its value: relays and ingress points use the new one within seconds.`,
		standins.SecretsPath, "secrets", func(sc standinCall) *cobra.Command {
			var username, password, value string
			cmd := &cobra.Command{
				Use:   "put NAME (--username U --password P | --password P | --value JSON)",
				Short: "Create or replace a secret and print its ARN",
				Args:  cobra.ExactArgs(1),
				RunE: func(c *cobra.Command, args []string) error {
					v := map[string]string{}
					switch {
					case value != "" && (username != "" || password != ""):
						return fmt.Errorf("give --value or --username/--password, not both")
					case value != "":
						if err := json.Unmarshal([]byte(value), &v); err != nil {
							return fmt.Errorf("--value: want a JSON object of strings: %v", err)
						}
					case password != "":
						v["password"] = password
						if username != "" {
							v["username"] = username
						}
					case username != "":
						return fmt.Errorf("--username needs --password")
					default:
						return fmt.Errorf("give --password (with --username for a relay) or --value JSON")
					}
					return sc.put(c, args[0], map[string]any{"value": v})
				},
			}
			cmd.Flags().StringVar(&username, "username", "", "the SMTP user name (key \"username\")")
			cmd.Flags().StringVar(&password, "password", "", "the SMTP password (key \"password\")")
			cmd.Flags().StringVar(&value, "value", "", `the whole secret as a JSON object, e.g. '{"username":"u","password":"p"}'`)
			return cmd
		})
}

func newFunctions() *cobra.Command {
	return standinCommand("functions", "Map Lambda function ARNs to the URLs InvokeLambda actions call",
		`Functions stand in for AWS Lambda: an InvokeLambda rule action whose
FunctionArn is arn:aws:lambda:REGION:ACCOUNT:function:NAME (printed by put)
POSTs its event (JSON) to the function's URL. InvocationType EVENT queues
the call and retries it for RetryTimeMinutes; REQUEST_RESPONSE calls at once
and fails the action (per its ActionFailurePolicy) on an error or a non-2xx
answer. With --secret each call is signed as webhooks are:

  X-Tidings-Signature: v1=<hex HMAC-SHA256 of "<X-Tidings-Timestamp>.<body>">`,
		standins.FunctionsPath, "functions", func(sc standinCall) *cobra.Command {
			var u, secret string
			cmd := &cobra.Command{
				Use:   "put NAME --url URL [--secret S]",
				Short: "Create or replace a function and print its ARN",
				Args:  cobra.ExactArgs(1),
				RunE: func(c *cobra.Command, args []string) error {
					if u == "" {
						return fmt.Errorf("--url is required")
					}
					return sc.put(c, args[0], map[string]string{"url": u, "secret": secret})
				},
			}
			cmd.Flags().StringVar(&u, "url", "", "http:// or https:// URL the invocations are POSTed to")
			cmd.Flags().StringVar(&secret, "secret", "", "sign each call with this secret (HMAC-SHA256)")
			return cmd
		})
}

func newMailboxes() *cobra.Command {
	return standinCommand("mailboxes", "Map mailbox ARNs to the LMTP servers or Maildirs DeliverToMailbox actions deliver to",
		`Mailboxes stand in for WorkMail: a DeliverToMailbox rule action whose
MailboxArn ends in NAME (arn:aws:workmail:REGION:ACCOUNT:organization/NAME,
printed by put) delivers to the mailbox's LMTP server (RFC 2033: Dovecot,
Cyrus, Postfix's lmtp) or Maildir. A MailboxArn naming no mailbox here is
delivered to the Maildir <data dir>/mailboxes/ACCOUNT/NAME.`,
		standins.MailboxesPath, "mailboxes", func(sc standinCall) *cobra.Command {
			var lmtp, maildir string
			cmd := &cobra.Command{
				Use:   "put NAME (--lmtp HOST:PORT | --maildir PATH)",
				Short: "Create or replace a mailbox and print its ARN",
				Args:  cobra.ExactArgs(1),
				RunE: func(c *cobra.Command, args []string) error {
					return sc.put(c, args[0], map[string]string{"lmtp": lmtp, "maildir": maildir})
				},
			}
			cmd.Flags().StringVar(&lmtp, "lmtp", "", "host:port of the LMTP server")
			cmd.Flags().StringVar(&maildir, "maildir", "", "absolute path of the Maildir (on the server's machine)")
			return cmd
		})
}
