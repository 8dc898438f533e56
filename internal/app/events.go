package app

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tidings/tidings/internal/awsapi"
	"github.com/tidings/tidings/internal/config"
	"github.com/tidings/tidings/internal/events"
	"github.com/tidings/tidings/internal/store"
)

// newEvents builds the events service (topics, webhooks, the event log),
// registers its jobs and mounts its API under /v1/topics. The other
// services publish through the service it returns (events.Publisher).
func newEvents(ctx context.Context, db *store.DB, cfg *config.Config, reg prometheus.Registerer, api *awsapi.Server, mux *http.ServeMux, log *slog.Logger) (*events.Service, error) {
	giveUp, _ := cfg.WebhookGiveUpDuration() // checked by Validate
	ev, err := events.New(db.Events(), events.Config{
		Region:   cfg.Region,
		GiveUp:   giveUp,
		Observer: newEventsMetrics(reg),
	}, log.With("component", "events"))
	if err != nil {
		return nil, err
	}
	if err := ev.Register(db.Jobs()); err != nil {
		return nil, err
	}
	if db.Dialect() == "sqlite" {
		// One node: jobs still marked running are those of this process
		// before a crash (the queue has not started yet).
		if n, err := ev.Recover(ctx, db.Jobs()); err != nil {
			log.Warn("events recovery failed", "err", err)
		} else if n > 0 {
			log.Info("events: resumed deliveries interrupted by a crash", "jobs", n)
		}
	}
	h := ev.NativeHandler(awsapi.NativeAuthenticator{Server: api, SigningName: events.SigningName, MaxBody: events.MaxMessageBytes})
	mux.Handle(events.NativePrefix, h)
	mux.Handle(events.NativePrefix+"/", h)
	return ev, nil
}

// eventsMetrics is the events.Observer behind /metrics.
type eventsMetrics struct {
	published prometheus.Counter
	queued    prometheus.Counter
	attempts  *prometheus.CounterVec
	latency   prometheus.Histogram
}

func newEventsMetrics(reg prometheus.Registerer) *eventsMetrics {
	m := &eventsMetrics{
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tidings_events_published_total",
			Help: "Events published to topics (each kept in its topic's log).",
		}),
		queued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tidings_events_deliveries_queued_total",
			Help: "Webhook deliveries queued by publishes (one per matching subscriber).",
		}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidings_events_delivery_attempts_total",
			Help: "Webhook and invocation attempts by outcome: delivered, failed (to be retried), dead_lettered (given up).",
		}, []string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tidings_events_delivery_attempt_duration_seconds",
			Help:    "Time of one webhook or invocation attempt.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}),
	}
	for _, o := range []string{"delivered", "failed", "dead_lettered"} {
		m.attempts.WithLabelValues(o)
	}
	reg.MustRegister(m.published, m.queued, m.attempts, m.latency)
	return m
}

func (m *eventsMetrics) Published(subscribers int) {
	m.published.Inc()
	m.queued.Add(float64(subscribers))
}

func (m *eventsMetrics) Attempted(outcome string, took time.Duration) {
	m.attempts.WithLabelValues(outcome).Inc()
	m.latency.Observe(took.Seconds())
}

// gatewayPublisher is the gateway's PublishToSns through the events
// service, idempotent per message and step.
type gatewayPublisher struct{ evs *events.Service }

func (p *gatewayPublisher) Publish(ctx context.Context, accountID, topicARN, dedupKey string, message []byte) error {
	_, err := p.evs.PublishEvent(ctx, events.PublishInput{AccountID: accountID, Destination: topicARN, Message: message, DedupKey: dedupKey})
	return err
}

// lazyPublisher is an events.Publisher for services built before the
// events service (which needs the HTTP mux); it is set before any job runs.
type lazyPublisher struct{ evs *events.Service }

func (p *lazyPublisher) Publish(ctx context.Context, accountID, destinationARN string, message []byte) error {
	return p.evs.Publish(ctx, accountID, destinationARN, message)
}
