package app

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tidings/tidings/internal/gateway"
	"github.com/tidings/tidings/internal/message"
)

// gatewayMetrics is the gateway.Observer behind /metrics.
type gatewayMetrics struct {
	accepted      prometheus.Counter
	acceptedBytes prometheus.Counter
	spoolSeconds  prometheus.Histogram
	rejected      *prometheus.CounterVec
	authFailed    prometheus.Counter
	processed     prometheus.Histogram
	processDelay  prometheus.Histogram
	steps         *prometheus.CounterVec
	deliveries    *prometheus.CounterVec
	endToEnd      prometheus.Histogram
	dsns          *prometheus.CounterVec

	depth func(context.Context) (map[gateway.MessageState]int64, error)
	desc  *prometheus.Desc
}

var _ gateway.Observer = (*gatewayMetrics)(nil)

func newGatewayMetrics(reg prometheus.Registerer) *gatewayMetrics {
	latency := prometheus.ExponentialBuckets(0.001, 2, 18) // 1 ms … 131 s
	m := &gatewayMetrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tidings_gateway_accepted_total",
			Help: "Messages spooled and answered 250 by the ingress points.",
		}),
		acceptedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tidings_gateway_accepted_bytes_total",
			Help: "Bytes of the messages spooled.",
		}),
		spoolSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tidings_gateway_spool_duration_seconds",
			Help:    "Time to make a message durable (blob fsync, row and job commit) before 250.",
			Buckets: latency,
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidings_gateway_rejected_total",
			Help: "Connections, commands and messages refused by the ingress points, by reason.",
		}, []string{"reason"}),
		authFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tidings_gateway_auth_failures_total",
			Help: "Failed SMTP AUTH attempts on AUTH ingress points.",
		}),
		processed: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tidings_gateway_process_duration_seconds",
			Help:    "Time of one rule-set run (authentication checks, evaluation, actions).",
			Buckets: latency,
		}),
		processDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tidings_gateway_process_latency_seconds",
			Help:    "Time from 250 to the end of the rule-set run.",
			Buckets: latency,
		}),
		steps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidings_gateway_steps_total",
			Help: "Rule actions recorded, by action and outcome (DONE, FAILED, SKIPPED).",
		}, []string{"action", "state"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidings_gateway_deliveries_total",
			Help: "Relay attempts per recipient, by outcome: DELIVERED (relayed), DEFERRED, FAILED.",
		}, []string{"state"}),
		endToEnd: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tidings_gateway_relay_latency_seconds",
			Help:    "Time from 250 at the ingress point to 250 from the relay.",
			Buckets: latency,
		}),
		dsns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidings_gateway_bounces_total",
			Help: "Delivery status notifications to senders: sent, deferred, failed.",
		}, []string{"outcome"}),
		desc: prometheus.NewDesc("tidings_gateway_queue_messages",
			"Messages in the gateway queue by state (QUEUED: rules pending; ACTIVE: deliveries pending; DONE: kept for inspection).",
			[]string{"state"}, nil),
	}
	reg.MustRegister(m.accepted, m.acceptedBytes, m.spoolSeconds, m.rejected, m.authFailed, m.processed,
		m.processDelay, m.steps, m.deliveries, m.endToEnd, m.dsns, m)
	return m
}

func (m *gatewayMetrics) Accepted(env *message.Envelope, took time.Duration) {
	m.accepted.Inc()
	m.acceptedBytes.Add(float64(env.Size))
	m.spoolSeconds.Observe(took.Seconds())
}

func (m *gatewayMetrics) Rejected(reason string) { m.rejected.WithLabelValues(reason).Inc() }
func (m *gatewayMetrics) AuthFailed()            { m.authFailed.Inc() }

func (m *gatewayMetrics) Processed(took, sinceReceived time.Duration) {
	m.processed.Observe(took.Seconds())
	m.processDelay.Observe(sinceReceived.Seconds())
}

func (m *gatewayMetrics) Step(action string, state gateway.StepState) {
	m.steps.WithLabelValues(action, string(state)).Inc()
}

func (m *gatewayMetrics) Delivered(state gateway.DeliveryState, sinceReceived time.Duration) {
	m.deliveries.WithLabelValues(string(state)).Inc()
	if state == gateway.DeliveryDelivered {
		m.endToEnd.Observe(sinceReceived.Seconds())
	}
}

func (m *gatewayMetrics) Notified(outcome string) { m.dsns.WithLabelValues(outcome).Inc() }

// Describe and Collect make the queue depth a gauge read from the
// database at scrape time (every node sees the same queue).
func (m *gatewayMetrics) Describe(ch chan<- *prometheus.Desc) { ch <- m.desc }

func (m *gatewayMetrics) Collect(ch chan<- prometheus.Metric) {
	if m.depth == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, err := m.depth(ctx)
	if err != nil {
		return
	}
	for _, st := range []gateway.MessageState{gateway.Queued, gateway.Active, gateway.Done} {
		ch <- prometheus.MustNewConstMetric(m.desc, prometheus.GaugeValue, float64(n[st]), string(st))
	}
}
