package main

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	blobfs "github.com/tidings/tidings/internal/blob/fs"
	"github.com/tidings/tidings/internal/config"
	"github.com/tidings/tidings/internal/gateway"
	"github.com/tidings/tidings/internal/store"
)

// newQueue inspects and acts on the gateway queue directly in the database,
// as `keys` does; it works beside a running server.
func newQueue() *cobra.Command {
	cfg := &config.Config{}
	cmd := &cobra.Command{
		Use:   "queue",
		Short: "List, show, retry and delete the messages of the gateway queue",
		Long: `Inspect the gateway queue in the database named by --data-dir / --database-url
(the same settings as "tidings serve"; it may be running). Jobs queued by
"retry" are worked by the running server.`,
	}
	for _, v := range cfg.Vars() {
		switch v.Env {
		case "TIDINGS_DATA_DIR", "TIDINGS_DATABASE_URL":
			bindFlag(cmd.PersistentFlags(), v)
		default:
			*v.Ptr = v.Default
		}
	}
	type opened struct {
		db *store.DB
		q  *gateway.Queue
	}
	open := func(cmd *cobra.Command) (*opened, error) {
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		db, err := store.Open(cmd.Context(), cfg.DatabaseURL, cfg.DataDir, slog.New(slog.DiscardHandler))
		if err != nil {
			return nil, err
		}
		blobs, err := blobfs.New(filepath.Join(cfg.DataDir, "blobs"))
		if err != nil {
			db.Close()
			return nil, err
		}
		return &opened{db: db, q: gateway.NewQueue(db.Gateway(), blobs)}, nil
	}

	var state string
	var limit int
	var after string
	list := &cobra.Command{
		Use:   "list",
		Short: "List queued messages (oldest first)",
		Long: `List messages. --state QUEUED (rules not applied yet), ACTIVE (deliveries
pending), DONE (finished, kept for a while), DEFERRED (with a deferred
delivery); default: all but DONE.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := open(cmd)
			if err != nil {
				return err
			}
			defer o.db.Close()
			var filters []gateway.ListFilter
			switch s := strings.ToUpper(state); s {
			case "":
				filters = []gateway.ListFilter{{State: gateway.Queued}, {State: gateway.Active}}
			case "DEFERRED":
				filters = []gateway.ListFilter{{Deferred: true}}
			case string(gateway.Queued), string(gateway.Active), string(gateway.Done):
				filters = []gateway.ListFilter{{State: gateway.MessageState(s)}}
			case "ALL":
				filters = []gateway.ListFilter{{}}
			default:
				return fmt.Errorf("--state %q: want QUEUED, ACTIVE, DONE, DEFERRED or ALL", state)
			}
			var all []gateway.Summary
			for _, f := range filters {
				f.After, f.Limit = after, limit
				l, err := o.q.List(cmd.Context(), f)
				if err != nil {
					return err
				}
				all = append(all, l...)
			}
			printSummaries(cmd.OutOrStdout(), all)
			return nil
		},
	}
	list.Flags().StringVar(&state, "state", "", "QUEUED, ACTIVE, DONE, DEFERRED or ALL")
	list.Flags().IntVar(&limit, "limit", 1000, "at most this many messages (per state)")
	list.Flags().StringVar(&after, "after", "", "start after this queue id")

	show := &cobra.Command{
		Use:   "show QUEUE_ID",
		Short: "Show a message: envelope, verdicts, rule steps and deliveries with their last error",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := open(cmd)
			if err != nil {
				return err
			}
			defer o.db.Close()
			d, err := o.q.Show(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			printDetails(cmd.OutOrStdout(), d)
			return nil
		},
	}
	retry := &cobra.Command{
		Use:   "retry QUEUE_ID",
		Short: "Try the deferred deliveries of a message now (and its pending rules and notifications)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := open(cmd)
			if err != nil {
				return err
			}
			defer o.db.Close()
			n, err := o.q.Retry(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d job(s) queued\n", args[0], n)
			return nil
		},
	}
	del := &cobra.Command{
		Use:   "delete QUEUE_ID",
		Short: "Delete a message from the queue, undelivered, with its spooled copy",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := open(cmd)
			if err != nil {
				return err
			}
			defer o.db.Close()
			if err := o.q.Delete(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted %s\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(list, show, retry, del)
	return cmd
}

func printSummaries(w io.Writer, ms []gateway.Summary) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "QUEUE ID\tSTATE\tRECEIVED\tSIZE\tFROM\tRCPTS\tDELIVERED\tDEFERRED\tFAILED\tERROR")
	for _, m := range ms {
		from := m.MailFrom
		if from == "" {
			from = "<>"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\t%d\t%d\t%d\t%s\n", m.QueueID, m.State, m.ReceivedAt.UTC().Format(time.RFC3339),
			m.Size, from, m.Recipients, m.Deliveries[gateway.DeliveryDelivered], m.Deliveries[gateway.DeliveryDeferred],
			m.Deliveries[gateway.DeliveryFailed]+m.Deliveries[gateway.DeliveryBounced], m.Error)
	}
	tw.Flush()
}

func printDetails(w io.Writer, d *gateway.Details) {
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	from := d.Envelope.MailFrom
	fmt.Fprintf(w, "Queue ID:       %s\n", d.QueueID)
	fmt.Fprintf(w, "State:          %s\n", d.State)
	if d.Error != "" {
		fmt.Fprintf(w, "Error:          %s\n", d.Error)
	}
	fmt.Fprintf(w, "Received:       %s\n", ts(d.ReceivedAt))
	fmt.Fprintf(w, "Updated:        %s\n", ts(d.UpdatedAt))
	fmt.Fprintf(w, "Account:        %s\n", d.AccountID)
	fmt.Fprintf(w, "Ingress point:  %s (rule set %s)\n", d.IngressPointID, d.RuleSetID)
	fmt.Fprintf(w, "Size:           %d\n", d.Size)
	if d.BlobKey != "" {
		fmt.Fprintf(w, "Spooled as:     %s\n", d.BlobKey)
	}
	fmt.Fprintf(w, "MAIL FROM:      <%s>\n", from)
	for _, r := range d.Envelope.Recipients {
		fmt.Fprintf(w, "RCPT TO:        <%s>\n", r)
	}
	c := d.Envelope.Conn
	tlsInfo := "no TLS"
	if c.TLS != "" {
		tlsInfo = c.TLS + " " + c.TLSCipher
	}
	fmt.Fprintf(w, "Client:         %s (HELO %s), %s", c.RemoteIP, c.Helo, tlsInfo)
	if c.AuthUser != "" {
		fmt.Fprintf(w, ", AUTH %s", c.AuthUser)
	}
	fmt.Fprintln(w)
	if a := d.Auth; a != nil {
		fmt.Fprintf(w, "Verdicts:       SPF %s, DKIM %s, DMARC %s (policy %s)\n", a.SPF, a.DKIM, a.DMARC, orDash(a.DMARCPolicy))
	} else {
		fmt.Fprintf(w, "Verdicts:       not checked yet\n")
	}

	fmt.Fprintf(w, "\nSteps:\n")
	if len(d.Steps) == 0 {
		fmt.Fprintln(w, "  (none)")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range d.Steps {
		rule := fmt.Sprintf("rule %d", s.Rule)
		if s.RuleName != "" {
			rule += " (" + s.RuleName + ")"
		}
		what := s.Detail
		if s.Error != "" {
			what = "error: " + s.Error
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%d rcpt(s)\t%s\n", s.Index, s.Action, s.State, rule, len(s.Recipients), what)
	}
	tw.Flush()

	fmt.Fprintf(w, "\nDeliveries:\n")
	if len(d.Deliveries) == 0 {
		fmt.Fprintln(w, "  (none)")
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  STEP\tRECIPIENT\tRELAY\tSTATE\tATTEMPTS\tLAST ATTEMPT\tNEXT ATTEMPT\tLAST REPLY\tDSN\n")
	for _, dl := range d.Deliveries {
		next := "-"
		if dl.State == gateway.DeliveryPending || dl.State == gateway.DeliveryDeferred {
			next = ts(dl.NextAttemptAt)
		}
		reply := dl.LastReply
		if dl.RemoteMTA != "" {
			reply += " (" + dl.RemoteMTA + ")"
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", dl.Step, dl.Recipient, orDash(dl.RelayID), dl.State,
			dl.Attempts, ts(dl.LastAttemptAt), next, orDash(reply), orDash(dl.DSN))
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
