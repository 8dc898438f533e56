package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/tidings/tidings/internal/apply"
	"github.com/tidings/tidings/internal/client"
)

func newApply() *cobra.Command {
	var (
		file, endpoint, region string
		dryRun                 bool
	)
	cmd := &cobra.Command{
		Use:   "apply -f FILE.yaml",
		Short: "Make the server's Mail Manager resources match a YAML file",
		Long: `Apply a declarative file of address lists, archives, relays, traffic policies,
rule sets and ingress points through the API of a running Tidings. Resources
are matched by name: missing ones are created, different ones updated, others
left alone. Applying the same file twice changes nothing. --dry-run prints the
plan and changes nothing.

Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (else
TIDINGS_ROOT_ACCESS_KEY_ID and TIDINGS_ROOT_SECRET_ACCESS_KEY); the endpoint
from --endpoint, else AWS_ENDPOINT_URL, else http://$TIDINGS_HTTP_ADDR.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return fmt.Errorf("apply: -f FILE is required")
			}
			var in *os.File
			if file == "-" {
				in = os.Stdin
			} else {
				f, err := os.Open(file)
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			spec, err := apply.Parse(in)
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			c, err := apiClient(endpoint, region)
			if err != nil {
				return err
			}
			plan, err := apply.Apply(cmd.Context(), apply.MailManager{C: c}, spec, dryRun)
			out := cmd.OutOrStdout()
			changed := 0
			for _, ch := range plan {
				fmt.Fprintln(out, ch)
				if ch.Action != "unchanged" {
					changed++
				}
			}
			if err != nil {
				return err
			}
			verb := "changed"
			if dryRun {
				verb = "would change"
			}
			fmt.Fprintf(out, "%d of %d resources %s\n", changed, len(plan), verb)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "YAML file to apply (- for standard input)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan, change nothing")
	cmd.Flags().StringVar(&endpoint, "endpoint", "", "API endpoint URL")
	cmd.Flags().StringVar(&region, "region", "", "region (default $AWS_DEFAULT_REGION, $TIDINGS_REGION, us-east-1)")
	return cmd
}

// apiClient builds a client from flags and the environment.
func apiClient(endpoint, region string) (*client.Client, error) {
	first := func(vals ...string) string {
		for _, v := range vals {
			if v != "" {
				return v
			}
		}
		return ""
	}
	httpAddr := first(os.Getenv("TIDINGS_HTTP_ADDR"), "127.0.0.1:8025")
	c := &client.Client{
		Endpoint:    first(endpoint, os.Getenv("AWS_ENDPOINT_URL"), "http://"+httpAddr),
		Region:      first(region, os.Getenv("AWS_DEFAULT_REGION"), os.Getenv("AWS_REGION"), os.Getenv("TIDINGS_REGION"), "us-east-1"),
		AccessKeyID: first(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("TIDINGS_ROOT_ACCESS_KEY_ID")),
		Secret:      first(os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("TIDINGS_ROOT_SECRET_ACCESS_KEY")),
	}
	if c.AccessKeyID == "" || c.Secret == "" {
		return nil, fmt.Errorf("no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (see \"tidings keys create\")")
	}
	return c, nil
}
