package app

import (
	"fmt"
	"io"
	"time"

	"github.com/tidings/tidings/internal/config"
	"github.com/tidings/tidings/internal/iam"
)

// banner tells the operator where Tidings is and how to point the AWS CLI
// at it. The root secret appears only when it was just generated.
func banner(w io.Writer, version string, cfg *config.Config, baseURL string, root iam.AccessKey, generated bool, database string, took time.Duration, smtp string) {
	fmt.Fprintf(w, "Tidings %s ready in %s\n", version, took.Round(time.Millisecond))
	fmt.Fprintf(w, "  API:       %s  (health %s/healthz, metrics %s/metrics)\n", baseURL, baseURL, baseURL)
	fmt.Fprintf(w, "  Console:   %s/console/  (an access key pair, or \"tidings console set-password\")\n", baseURL)
	fmt.Fprintf(w, "  Database:  %s   Data dir: %s\n", database, cfg.DataDir)
	fmt.Fprintf(w, "  Account:   %s   Region: %s\n", cfg.AccountID, cfg.Region)
	if smtp != "" {
		fmt.Fprintf(w, "  SMTP:      %s\n", smtp)
	}
	switch {
	case generated:
		fmt.Fprintf(w, "\nA root access key was generated. It is shown this once; keep it:\n\n")
		fmt.Fprintf(w, "  export AWS_ENDPOINT_URL=%s\n", baseURL)
		fmt.Fprintf(w, "  export AWS_ACCESS_KEY_ID=%s\n", root.AccessKeyID)
		fmt.Fprintf(w, "  export AWS_SECRET_ACCESS_KEY=%s\n", root.SecretAccessKey)
		fmt.Fprintf(w, "  export AWS_DEFAULT_REGION=%s\n\n", cfg.Region)
		fmt.Fprintf(w, "  aws mailmanager list-rule-sets\n\n")
		fmt.Fprintf(w, "Lost it? \"tidings keys create\" makes another.\n")
	case root.AccessKeyID != "":
		fmt.Fprintf(w, "\nPoint the AWS CLI at it:\n\n")
		fmt.Fprintf(w, "  export AWS_ENDPOINT_URL=%s AWS_DEFAULT_REGION=%s\n", baseURL, cfg.Region)
		fmt.Fprintf(w, "  export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=<the configured secret>\n\n", root.AccessKeyID)
	default:
		fmt.Fprintf(w, "\nPoint the AWS CLI at it with AWS_ENDPOINT_URL=%s and the root key printed at\n", baseURL)
		fmt.Fprintf(w, "first start (or a new one from \"tidings keys create\").\n")
	}
}
