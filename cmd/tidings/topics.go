package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tidings/tidings/internal/client"
	"github.com/tidings/tidings/internal/events"
)

// newTopics manages topics and webhook subscriptions through the /v1/topics
// API of a running server, as `apply` uses the AWS API.
func newTopics() *cobra.Command {
	var (
		endpoint, region string
		jsonOut          bool
	)
	cmd := &cobra.Command{
		Use:   "topics",
		Short: "Manage topics, their webhook subscriptions, event logs and dead letters",
		Long: `Topics are where Tidings publishes events (SES event destinations, SMS
events, the gateway's PublishToSns action): an SNS topic ARN
arn:aws:sns:REGION:ACCOUNT:NAME and an EventBridge bus ARN
arn:aws:events:REGION:ACCOUNT:event-bus/NAME both name the topic NAME.
Every event is kept in the topic's log and POSTed to each subscribed
webhook, signed:

  X-Tidings-Signature: v1=<hex HMAC-SHA256 of "<X-Tidings-Timestamp>.<body>">

keyed with the subscription's secret. Failed deliveries are retried with
backoff until TIDINGS_WEBHOOK_GIVE_UP, then kept as dead letters.

Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (else
TIDINGS_ROOT_ACCESS_KEY_ID and TIDINGS_ROOT_SECRET_ACCESS_KEY); the endpoint
from --endpoint, else AWS_ENDPOINT_URL, else http://$TIDINGS_HTTP_ADDR.`,
	}
	cmd.PersistentFlags().StringVar(&endpoint, "endpoint", "", "API endpoint URL")
	cmd.PersistentFlags().StringVar(&region, "region", "", "region (default $AWS_DEFAULT_REGION, $TIDINGS_REGION, us-east-1)")
	cmd.PersistentFlags().BoolVar(&jsonOut, "json", false, "print the API's JSON answer")

	// call sends a request to the topics API; out receives the answer.
	call := func(cmd *cobra.Command, method, path, contentType string, body []byte, out any) error {
		c, err := apiClient(endpoint, region)
		if err != nil {
			return err
		}
		return c.Native(cmd.Context(), events.SigningName, method, path, contentType, body, out)
	}
	callJSON := func(cmd *cobra.Command, method, path string, in, out any) error {
		var body []byte
		if in != nil {
			var err error
			if body, err = json.Marshal(in); err != nil {
				return err
			}
		}
		return call(cmd, method, path, "", body, out)
	}
	// printJSON prints v when --json is set and reports whether it did.
	printJSON := func(cmd *cobra.Command, v any) bool {
		if !jsonOut {
			return false
		}
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		_ = enc.Encode(v)
		return true
	}
	topicPath := func(name string, rest ...string) string {
		return events.NativePrefix + "/" + url.PathEscape(name) + strings.Join(rest, "")
	}

	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a topic",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var t events.TopicJSON
			if err := callJSON(cmd, "POST", events.NativePrefix, map[string]string{"name": args[0]}, &t); err != nil {
				return err
			}
			if !printJSON(cmd, t) {
				fmt.Fprintf(cmd.OutOrStdout(), "created topic %s\n  %s\n  %s\n", t.Name, t.ARN, t.EventBusARN)
			}
			return nil
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the topics of the account",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				Topics []events.TopicJSON `json:"topics"`
			}
			if err := callJSON(cmd, "GET", events.NativePrefix, nil, &out); err != nil {
				return err
			}
			if printJSON(cmd, out) {
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tCREATED\tARN")
			for _, t := range out.Topics {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Name, t.CreatedAt.UTC().Format(time.RFC3339), t.ARN)
			}
			return tw.Flush()
		},
	}
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a topic with its subscriptions, event log and dead letters",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := callJSON(cmd, "DELETE", topicPath(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted topic %s\n", args[0])
			return nil
		},
	}

	var secret, filter string
	subscribe := &cobra.Command{
		Use:   "subscribe NAME URL",
		Short: "Subscribe a webhook (http:// or https://) to a topic",
		Long: `Subscribe a webhook to a topic. Without --secret a secret is generated; it is
printed now and never again. --filter takes an SNS-style filter policy on the
JSON message body, e.g. '{"eventType": ["Bounce", "Complaint"]}'.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := map[string]any{"url": args[1]}
			if secret != "" {
				in["secret"] = secret
			}
			if filter != "" {
				if !json.Valid([]byte(filter)) {
					return fmt.Errorf("--filter: not JSON")
				}
				in["filter"] = json.RawMessage(filter)
			}
			var sub events.SubscriptionJSON
			if err := callJSON(cmd, "POST", topicPath(args[0], "/subscriptions"), in, &sub); err != nil {
				return err
			}
			if !printJSON(cmd, sub) {
				fmt.Fprintf(cmd.OutOrStdout(), "subscribed %s to topic %s\n  id:     %s\n  secret: %s\n", sub.URL, sub.Topic, sub.ID, sub.Secret)
				if secret == "" {
					fmt.Fprintln(cmd.OutOrStdout(), "  (keep the secret: it is not shown again)")
				}
			}
			return nil
		},
	}
	subscribe.Flags().StringVar(&secret, "secret", "", "signing secret (16-256 printable characters; default: generated)")
	subscribe.Flags().StringVar(&filter, "filter", "", "filter policy (JSON)")

	subscriptions := &cobra.Command{
		Use:   "subscriptions NAME",
		Short: "List a topic's subscriptions with their delivery counts",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out struct {
				Subscriptions []events.SubscriptionJSON `json:"subscriptions"`
			}
			if err := callJSON(cmd, "GET", topicPath(args[0], "/subscriptions"), nil, &out); err != nil {
				return err
			}
			if printJSON(cmd, out) {
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tURL\tPENDING\tDELIVERED\tDEAD\tLAST ATTEMPT\tFILTER")
			for _, s := range out.Subscriptions {
				last := "-"
				if s.LastAttemptAt != nil {
					last = s.LastAttemptAt.UTC().Format(time.RFC3339)
				}
				f := "-"
				if len(s.Filter) > 0 {
					f = string(s.Filter)
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\n", s.ID, s.URL, s.Deliveries["pending"], s.Deliveries["delivered"], s.Deliveries["dead"], last, f)
			}
			return tw.Flush()
		},
	}
	unsubscribe := &cobra.Command{
		Use:   "unsubscribe NAME SUBSCRIPTION_ID",
		Short: "Remove a subscription (its pending deliveries are dropped)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := callJSON(cmd, "DELETE", topicPath(args[0], "/subscriptions/", url.PathEscape(args[1])), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "unsubscribed %s from topic %s\n", args[1], args[0])
			return nil
		},
	}

	var file, dedup string
	publish := &cobra.Command{
		Use:   "publish NAME [MESSAGE]",
		Short: "Publish a message to a topic (MESSAGE, --file, or standard input)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var body []byte
			switch {
			case len(args) == 2 && file != "":
				return fmt.Errorf("give MESSAGE or --file, not both")
			case len(args) == 2:
				body = []byte(args[1])
			case file != "" && file != "-":
				b, err := os.ReadFile(file)
				if err != nil {
					return err
				}
				body = b
			default:
				b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), events.MaxMessageBytes+1))
				if err != nil {
					return err
				}
				body = b
			}
			ct := "text/plain; charset=utf-8"
			if json.Valid(body) {
				ct = "application/json"
			}
			c, err := apiClient(endpoint, region)
			if err != nil {
				return err
			}
			var out struct {
				EventID string `json:"event_id"`
			}
			if err := publishWithKey(cmd, c, topicPath(args[0], "/publish"), ct, body, dedup, &out); err != nil {
				return err
			}
			if !printJSON(cmd, out) {
				fmt.Fprintln(cmd.OutOrStdout(), out.EventID)
			}
			return nil
		},
	}
	publish.Flags().StringVarP(&file, "file", "f", "", "read the message from this file (- for standard input)")
	publish.Flags().StringVar(&dedup, "dedup-key", "", "publish once per key (a repeat returns the first event)")

	var limit int
	var before string
	eventsCmd := &cobra.Command{
		Use:   "events NAME [EVENT_ID]",
		Short: "List a topic's event log, newest first, or show one event with its deliveries",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			if len(args) == 2 {
				var ev events.EventJSON
				if err := callJSON(cmd, "GET", topicPath(args[0], "/events/", url.PathEscape(args[1])), nil, &ev); err != nil {
					return err
				}
				if printJSON(cmd, ev) {
					return nil
				}
				fmt.Fprintf(w, "Event:    %s\nTopic:    %s\nCreated:  %s\nSize:     %d\n", ev.ID, ev.Topic, ev.CreatedAt.UTC().Format(time.RFC3339Nano), ev.Size)
				if ev.Message != nil {
					fmt.Fprintf(w, "Message:  %s\n", *ev.Message)
				} else {
					fmt.Fprintf(w, "Message (base64): %s\n", ev.MessageBase64)
				}
				fmt.Fprintln(w, "\nDeliveries:")
				printDeliveries(w, ev.Deliveries)
				return nil
			}
			q := url.Values{}
			if limit > 0 {
				q.Set("limit", fmt.Sprint(limit))
			}
			if before != "" {
				q.Set("before", before)
			}
			path := topicPath(args[0], "/events")
			if len(q) > 0 {
				path += "?" + q.Encode()
			}
			var out struct {
				Events     []events.EventJSON `json:"events"`
				NextBefore string             `json:"next_before,omitempty"`
			}
			if err := callJSON(cmd, "GET", path, nil, &out); err != nil {
				return err
			}
			if printJSON(cmd, out) {
				return nil
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "EVENT ID\tCREATED\tSIZE\tMESSAGE")
			for _, e := range out.Events {
				msg := "(binary)"
				if e.Message != nil {
					msg = oneLine(*e.Message, 80)
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", e.ID, e.CreatedAt.UTC().Format(time.RFC3339), e.Size, msg)
			}
			tw.Flush()
			if out.NextBefore != "" {
				fmt.Fprintf(w, "(more: --before %s)\n", out.NextBefore)
			}
			return nil
		},
	}
	eventsCmd.Flags().IntVar(&limit, "limit", 0, "at most this many events (default 50, at most 1000)")
	eventsCmd.Flags().StringVar(&before, "before", "", "list events older than this event id")

	var redrive bool
	var dlEvent, dlSub string
	dead := &cobra.Command{
		Use:   "dead-letters NAME",
		Short: "List a topic's dead letters (deliveries given up), or --redrive them",
		Long: `List the deliveries of a topic that were given up after TIDINGS_WEBHOOK_GIVE_UP.
--redrive queues them again (all of them, or those of --event and/or
--subscription) with a fresh give-up time.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			if redrive {
				var out struct {
					Redriven int `json:"redriven"`
				}
				in := map[string]string{}
				if dlEvent != "" {
					in["event_id"] = dlEvent
				}
				if dlSub != "" {
					in["subscription_id"] = dlSub
				}
				if err := callJSON(cmd, "POST", topicPath(args[0], "/dead-letters/redrive"), in, &out); err != nil {
					return err
				}
				if !printJSON(cmd, out) {
					fmt.Fprintf(w, "%d delivery(ies) queued again\n", out.Redriven)
				}
				return nil
			}
			if dlEvent != "" || dlSub != "" {
				return fmt.Errorf("--event and --subscription select what --redrive queues")
			}
			var out struct {
				DeadLetters []events.DeliveryJSON `json:"dead_letters"`
				NextAfter   string                `json:"next_after,omitempty"`
			}
			if err := callJSON(cmd, "GET", topicPath(args[0], "/dead-letters"), nil, &out); err != nil {
				return err
			}
			if printJSON(cmd, out) {
				return nil
			}
			printDeliveries(w, out.DeadLetters)
			return nil
		},
	}
	dead.Flags().BoolVar(&redrive, "redrive", false, "queue the dead letters again")
	dead.Flags().StringVar(&dlEvent, "event", "", "with --redrive: only this event's")
	dead.Flags().StringVar(&dlSub, "subscription", "", "with --redrive: only this subscription's")

	cmd.AddCommand(create, list, del, subscribe, subscriptions, unsubscribe, publish, eventsCmd, dead)
	return cmd
}

// publishWithKey posts a message, with the deduplication key header when
// key is set.
func publishWithKey(cmd *cobra.Command, c *client.Client, path, contentType string, body []byte, key string, out any) error {
	if key != "" {
		c.Header = map[string]string{"X-Tidings-Dedup-Key": key}
	}
	return c.Native(cmd.Context(), events.SigningName, "POST", path, contentType, body, out)
}

func printDeliveries(w io.Writer, ds []events.DeliveryJSON) {
	if len(ds) == 0 {
		fmt.Fprintln(w, "  (none)")
		return
	}
	ts := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  EVENT ID\tSUBSCRIPTION\tSTATE\tATTEMPTS\tLAST ATTEMPT\tNEXT ATTEMPT\tLAST ERROR")
	for _, d := range ds {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\t%s\t%s\n", d.EventID, d.SubscriptionID, d.State, d.Attempts,
			ts(d.LastAttemptAt), ts(d.NextAttemptAt), orDash(oneLine(d.LastError, 100)))
	}
	tw.Flush()
}

// oneLine is s on one line, cut to n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
