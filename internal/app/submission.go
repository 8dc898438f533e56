package app

import (
	"crypto/tls"
	"log/slog"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tidings/tidings/internal/config"
	"github.com/tidings/tidings/internal/sending"
	"github.com/tidings/tidings/internal/store"
	"github.com/tidings/tidings/internal/submission"
)

// newSubmission builds the SMTP submission listeners of outbound email
// (SES's SMTP interface), or returns nil when both are off. They offer the
// gateway's certificate, with TLS 1.2 at least, as SES does.
func newSubmission(cfg *config.Config, db *store.DB, s *sending.Service, cert tls.Certificate, hostname string, reg prometheus.Registerer, log *slog.Logger) (*submission.Server, error) {
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
		Observer:     newSubmissionMetrics(reg),
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

// submissionMetrics is the submission.Observer behind /metrics.
type submissionMetrics struct {
	accepted, acceptedBytes, authFailed prometheus.Counter
	rejected                            *prometheus.CounterVec
}

func newSubmissionMetrics(reg prometheus.Registerer) *submissionMetrics {
	m := &submissionMetrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tidings_submission_accepted_total",
			Help: "Messages submitted over SMTP and answered 250 with their message id.",
		}),
		acceptedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tidings_submission_accepted_bytes_total",
			Help: "Bytes of the messages submitted over SMTP.",
		}),
		authFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tidings_submission_auth_failures_total",
			Help: "Failed SMTP AUTH attempts on the submission listeners.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidings_submission_rejected_total",
			Help: "Connections, commands and messages refused by the submission listeners, by reason (policy: the send pipeline refused the message).",
		}, []string{"reason"}),
	}
	reg.MustRegister(m.accepted, m.acceptedBytes, m.authFailed, m.rejected)
	return m
}

func (m *submissionMetrics) Accepted(bytes int64) {
	m.accepted.Inc()
	m.acceptedBytes.Add(float64(bytes))
}

func (m *submissionMetrics) Rejected(reason string) { m.rejected.WithLabelValues(reason).Inc() }
func (m *submissionMetrics) AuthFailed()            { m.authFailed.Inc() }
