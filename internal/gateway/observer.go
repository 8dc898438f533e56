package gateway

import (
	"time"

	"github.com/tidings/tidings/internal/message"
)

// Observer is told what the gateway does, for metrics. The app implements
// it with Prometheus; this package imports no metrics library. Methods are
// called from SMTP sessions and jobs, must be safe for concurrent use and
// must not block.
type Observer interface {
	// Accepted: a message was spooled (before "250"); took is the time
	// spent storing it.
	Accepted(env *message.Envelope, took time.Duration)
	// Rejected: a connection, command or message was refused; reason is
	// a short stable label (smtpd.Reason).
	Rejected(reason string)
	// AuthFailed: an AUTH attempt failed.
	AuthFailed()
	// Processed: the rule set of a message was applied; took is the
	// job's time, sinceReceived the time from "250" to now.
	Processed(took, sinceReceived time.Duration)
	// Step: an action was recorded with a final state (DONE, FAILED, SKIPPED).
	Step(action string, state StepState)
	// Delivered: one recipient's relay attempt ended with state
	// (DELIVERED, DEFERRED, FAILED); sinceReceived for DELIVERED is the
	// end-to-end latency.
	Delivered(state DeliveryState, sinceReceived time.Duration)
	// Notified: a delivery status notification was sent ("sent"), is
	// waiting ("deferred"), or could not be sent ("failed").
	Notified(outcome string)
}

type nopObserver struct{}

func (nopObserver) Accepted(*message.Envelope, time.Duration) {}
func (nopObserver) Rejected(string)                           {}
func (nopObserver) AuthFailed()                               {}
func (nopObserver) Processed(time.Duration, time.Duration)    {}
func (nopObserver) Step(string, StepState)                    {}
func (nopObserver) Delivered(DeliveryState, time.Duration)    {}
func (nopObserver) Notified(string)                           {}
