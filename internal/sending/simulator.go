package sending

import (
	"context"
	"strings"
	"time"
)

// The mailbox simulator (SES "Using the mailbox simulator"): addresses at
// simulator.amazonses.com never leave the machine; each produces the
// events SES documents. "+label" forms (success+label@...) behave as
// their base address.
const simulatorDomain = "simulator.amazonses.com"

type simKind int

const (
	simNone simKind = iota
	simSuccess
	simBounce
	simOOTO
	simComplaint
	simSuppressionList
	simUnknown // another address of the simulator domain: a hard bounce
)

func simulated(addr string) simKind {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 || !strings.EqualFold(addr[at+1:], simulatorDomain) {
		return simNone
	}
	local := strings.ToLower(addr[:at])
	if i := strings.IndexByte(local, '+'); i >= 0 {
		local = local[:i]
	}
	switch local {
	case "success":
		return simSuccess
	case "bounce":
		return simBounce
	case "ooto":
		return simOOTO
	case "complaint":
		return simComplaint
	case "suppressionlist":
		return simSuppressionList
	}
	return simUnknown
}

// simulate settles one simulator recipient and publishes its events. As
// SES, the simulator's bounces and complaints do not add the address to
// the account's suppression list (SES: "the mailbox simulator doesn't
// affect ... your suppression list").
func (s *Service) simulate(ctx context.Context, m *Message, meta *messageMeta, r *Recipient, now time.Time) {
	r.Attempts++
	r.UpdatedAt = now
	r.RemoteMTA = simulatorDomain
	deliveryEv := func() {
		s.publishFor(ctx, m.AccountID, meta, &Event{EventType: "Delivery", Mail: meta.Mail, Delivery: &deliveryEvent{
			Timestamp: sesTime(now), ProcessingTimeMillis: now.Sub(m.CreatedAt).Milliseconds(), Recipients: []string{r.Recipient},
			SMTPResponse: "250 2.6.0 Message received", ReportingMTA: s.cfg.Hostname,
		}})
	}
	kind := simulated(r.Recipient)
	switch kind {
	case simSuccess, simOOTO, simComplaint:
		r.State, r.LastReply = RcptDelivered, "250 2.6.0 Message received"
		deliveryEv()
		if kind == simComplaint {
			s.publishFor(ctx, m.AccountID, meta, &Event{EventType: "Complaint", Mail: meta.Mail, Complaint: &complaintEvent{
				ComplainedRecipients: []complainedRecipient{{EmailAddress: r.Recipient}}, Timestamp: sesTime(now),
				FeedbackID: feedbackEventID(m.MessageID, now), UserAgent: "Amazon SES Mailbox Simulator",
				ComplaintFeedbackType: "abuse", ArrivalDate: sesTime(now),
			}})
		}
	default:
		r.State, r.LastReply = RcptBounced, "550 5.1.1 user unknown"
		s.publishFor(ctx, m.AccountID, meta, &Event{EventType: "Bounce", Mail: meta.Mail, Bounce: &bounceEvent{
			BounceType: "Permanent", BounceSubType: "General",
			BouncedRecipients: []bouncedRecipient{{EmailAddress: r.Recipient, Action: "failed", Status: "5.1.1", DiagnosticCode: "smtp; 550 5.1.1 user unknown"}},
			Timestamp:         sesTime(now), FeedbackID: feedbackEventID(m.MessageID, now), ReportingMTA: "dns; " + s.cfg.Hostname,
		}})
	}
	s.log.Info("delivery (mailbox simulator)", "message_id", m.MessageID, "rcpt", r.Recipient, "state", r.State)
}
