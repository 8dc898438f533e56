package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tidings/tidings/internal/registrations"
)

// newRegistrations lists and reviews number registrations through the
// reviewer's API of a running server (keys of the operator's account).
func newRegistrations() *cobra.Command {
	var endpoint, region, account string
	cmd := &cobra.Command{
		Use:   "registrations",
		Short: "List and review the phone number registrations (toll-free, …) of a running server",
		Long: `Registrations made with the End User Messaging API (CreateRegistration, …,
SubmitRegistrationVersion) wait for a reviewer: Tidings has no carrier
registrar behind it, so the operator approves them or asks for updates.

Credentials are those of the operator's (root) account: AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY (else TIDINGS_ROOT_ACCESS_KEY_ID and
TIDINGS_ROOT_SECRET_ACCESS_KEY); the endpoint comes from --endpoint, else
AWS_ENDPOINT_URL, else http://$TIDINGS_HTTP_ADDR.`,
	}
	cmd.PersistentFlags().StringVar(&endpoint, "endpoint", "", "API endpoint URL")
	cmd.PersistentFlags().StringVar(&region, "region", "", "region (default $AWS_DEFAULT_REGION, $TIDINGS_REGION, us-east-1)")
	cmd.PersistentFlags().StringVar(&account, "account", "", "only this account's registrations (default: every account)")

	var status, regType string
	var limit int
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List registrations, oldest first, with their status and associated numbers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := apiClient(endpoint, region)
			if err != nil {
				return err
			}
			q := url.Values{}
			for k, v := range map[string]string{"account": account, "status": status, "type": regType} {
				if v != "" {
					q.Set(k, v)
				}
			}
			if limit > 0 {
				q.Set("limit", fmt.Sprint(limit))
			}
			path := registrations.NativePrefix
			if len(q) > 0 {
				path += "?" + q.Encode()
			}
			var out struct {
				Registrations []registrations.Summary `json:"registrations"`
			}
			if err := c.NativeJSON(cmd.Context(), "GET", path, "sms-voice", nil, &out); err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			printRegistrations(cmd.OutOrStdout(), out.Registrations)
			return nil
		},
	}
	list.Flags().StringVar(&status, "status", "", "only these statuses (comma-separated: SUBMITTED,REVIEWING,…)")
	list.Flags().StringVar(&regType, "type", "", "only this registration type (US_TOLL_FREE_REGISTRATION, …)")
	list.Flags().IntVar(&limit, "limit", 0, "at most this many")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	var (
		approve, requestUpdates, startReview bool
		reason, description                  string
		fields                               []string
	)
	review := &cobra.Command{
		Use:   "review REGISTRATION_ID (--approve | --request-updates --reason TEXT | --start-review)",
		Short: "Approve a submitted registration, ask for updates, or mark it as being reviewed",
		Long: `Decide on the submitted version of a registration:

  --approve            the registration becomes COMPLETE: its numbers may send
  --request-updates    the registration REQUIRES_UPDATES; --reason is required,
                       --description and --field PATH=FEEDBACK (repeatable)
                       tell the registrant what to fix
  --start-review       SUBMITTED → REVIEWING (optional)`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := registrations.ReviewInput{Reason: reason, Description: description}
			n := 0
			for flag, d := range map[*bool]registrations.Decision{&approve: registrations.Approve,
				&requestUpdates: registrations.RequestUpdates, &startReview: registrations.StartReview} {
				if *flag {
					in.Decision = d
					n++
				}
			}
			if n != 1 {
				return fmt.Errorf("review: give one of --approve, --request-updates and --start-review")
			}
			if in.Decision == registrations.RequestUpdates && reason == "" {
				return fmt.Errorf("review: --request-updates needs --reason")
			}
			for _, f := range fields {
				p, fb, ok := strings.Cut(f, "=")
				if !ok || p == "" || fb == "" {
					return fmt.Errorf("review: --field %q: want PATH=FEEDBACK", f)
				}
				if in.Fields == nil {
					in.Fields = map[string]string{}
				}
				in.Fields[p] = fb
			}
			c, err := apiClient(endpoint, region)
			if err != nil {
				return err
			}
			var sm registrations.Summary
			if err := c.NativeJSON(cmd.Context(), "POST", registrationPath(args[0], "/review", account), "sms-voice", in, &sm); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s (version %d %s)\n", sm.ID, sm.Status, sm.Version, sm.VersionStatus)
			return nil
		},
	}
	review.Flags().BoolVar(&approve, "approve", false, "approve the submitted version")
	review.Flags().BoolVar(&requestUpdates, "request-updates", false, "deny the submitted version: the registrant must update it")
	review.Flags().BoolVar(&startReview, "start-review", false, "mark the submitted version as being reviewed")
	review.Flags().StringVar(&reason, "reason", "", "why updates are needed (short)")
	review.Flags().StringVar(&description, "description", "", "what to change (long); with --approve, a note")
	review.Flags().StringArrayVar(&fields, "field", nil, "feedback on a field: PATH=FEEDBACK (repeatable)")

	var showJSON bool
	show := &cobra.Command{
		Use:   "show REGISTRATION_ID",
		Short: "Show a registration: status, associated numbers and the field values of its current version",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := apiClient(endpoint, region)
			if err != nil {
				return err
			}
			var d registrations.Detail
			if err := c.NativeJSON(cmd.Context(), "GET", registrationPath(args[0], "", account), "sms-voice", nil, &d); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if showJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(d)
			}
			fmt.Fprintf(w, "Registration:  %s (%s)\nAccount:       %s\nStatus:        %s\nVersion:       %d %s\n",
				d.ID, d.Type, d.AccountID, d.Status, d.Version, d.VersionStatus)
			fmt.Fprintf(w, "Associated:    %s\n\n", strings.Join(d.Associations, ", "))
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			for _, f := range d.Fields {
				v := strings.Join(f.Choices, ", ")
				switch {
				case f.Text != nil:
					v = *f.Text
				case f.AttachmentID != "":
					v = "attachment " + f.AttachmentID
				}
				if f.Feedback != "" {
					v += "  [reviewer: " + f.Feedback + "]"
				}
				fmt.Fprintf(tw, "%s\t%s\n", f.Path, v)
			}
			return tw.Flush()
		},
	}
	show.Flags().BoolVar(&showJSON, "json", false, "print JSON")

	var outFile string
	attachment := &cobra.Command{
		Use:   "attachment REGISTRATION_ID ATTACHMENT_ID -o FILE",
		Short: "Download an attachment a registration's fields name (the opt-in screenshot)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if outFile == "" {
				return fmt.Errorf("attachment: -o FILE is required")
			}
			c, err := apiClient(endpoint, region)
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			if err := c.NativeJSON(cmd.Context(), "GET", registrationPath(args[0], "/attachments/"+url.PathEscape(args[1]), account), "sms-voice", nil, &buf); err != nil {
				return err
			}
			return os.WriteFile(outFile, buf.Bytes(), 0o600)
		},
	}
	attachment.Flags().StringVarP(&outFile, "output", "o", "", "file to write")

	cmd.AddCommand(list, show, review, attachment)
	return cmd
}

// registrationPath is the reviewer's API path of registration id, with
// rest after it and the account query.
func registrationPath(id, rest, account string) string {
	p := registrations.NativePrefix + "/" + url.PathEscape(id) + rest
	if account != "" {
		p += "?account=" + url.QueryEscape(account)
	}
	return p
}

func printRegistrations(w io.Writer, list []registrations.Summary) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGISTRATION ID\tACCOUNT\tTYPE\tSTATUS\tVERSION\tCREATED\tASSOCIATED")
	for _, r := range list {
		assoc := strings.Join(r.Associations, ",")
		if assoc == "" {
			assoc = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d %s\t%s\t%s\n", r.ID, r.AccountID, r.Type, r.Status, r.Version, r.VersionStatus,
			r.CreatedAt.UTC().Format(time.RFC3339), assoc)
	}
	tw.Flush()
}
