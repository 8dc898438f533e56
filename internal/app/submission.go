package app

import (
	"crypto/tls"
	"log/slog"
	"strings"

	"github.com/tidings/tidings/internal/config"
	"github.com/tidings/tidings/internal/sending"
	"github.com/tidings/tidings/internal/store"
	"github.com/tidings/tidings/internal/submission"
)

// newSubmission builds the SMTP submission listeners of outbound email
// (SES's SMTP interface), or returns nil when both are off. They offer the
// gateway's certificate, with TLS 1.2 at least, as SES does.
func newSubmission(cfg *config.Config, db *store.DB, s *sending.Service, cert tls.Certificate, hostname string, log *slog.Logger) (*submission.Server, error) {
	startTLS, implicit, err := cfg.Submission()
	if err != nil || startTLS == "" && implicit == "" {
		return nil, err
	}
	return submission.New(submission.Config{
		Addr:         startTLS,
		ImplicitAddr: implicit,
		Hostname:     hostname,
		TLSConfig:    &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		Region:       cfg.Region,
		Keys:         db.KeyLookup(),
		Sender:       s,
		Logger:       log.With("component", "submission"),
	})
}

// submissionBanner says where to submit mail over SMTP, for the banner.
func submissionBanner(sub *submission.Server) string {
	if sub == nil {
		return ""
	}
	var l []string
	startTLS, implicit := sub.Addrs()
	if startTLS != "" {
		l = append(l, startTLS+" (STARTTLS)")
	}
	if implicit != "" {
		l = append(l, implicit+" (TLS)")
	}
	return strings.Join(l, ", ") + `  (credentials: "tidings smtp-credentials")`
}
