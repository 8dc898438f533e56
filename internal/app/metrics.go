package app

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tidings/tidings/internal/awsapi"
)

// apiMetrics counts and times API requests by service, operation and outcome.
type apiMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newAPIMetrics(reg prometheus.Registerer) *apiMetrics {
	m := &apiMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidings_api_requests_total",
			Help: "AWS-compatible API requests answered, by service, operation and error code (empty on success).",
		}, []string{"service", "operation", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tidings_api_request_duration_seconds",
			Help:    "Time to answer an API request.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"service", "operation"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

func (m *apiMetrics) ObserveRequest(r awsapi.RequestInfo) {
	m.requests.WithLabelValues(r.Service, r.Operation, r.ErrorCode).Inc()
	m.duration.WithLabelValues(r.Service, r.Operation).Observe(r.Duration.Seconds())
}
