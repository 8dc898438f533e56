package sending

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/tidings/tidings/internal/fault"
)

// Feedback is a bounce or complaint about a sent message, as the feedback
// package parses it from a DSN (RFC 3464) or an ARF report (RFC 5965)
// arriving at the bounce domain.
type Feedback struct {
	// MessageID is the SES message id: from the VERP return path
	// (MessageIDFromReturnPath) or the original's Message-ID.
	MessageID string
	// Complaint, else a bounce.
	Complaint bool
	// BounceType: Permanent, Transient or Undetermined; BounceSubType the
	// SES subtype (General, NoEmail, MailboxFull, ...).
	BounceType, BounceSubType string
	Recipients                []FeedbackRecipient
	// ComplaintFeedbackType is the ARF Feedback-Type (abuse, fraud, ...);
	// UserAgent the reporter's.
	ComplaintFeedbackType, UserAgent string
	ReportingMTA                     string
	ArrivalDate                      time.Time
}

// FeedbackRecipient is one recipient a DSN or report is about.
type FeedbackRecipient struct {
	Email          string
	Status         string // enhanced status code, 5.1.1
	DiagnosticCode string // "smtp; 550 5.1.1 ..."
	Action         string // failed, delayed
}

// MessageIDFromReturnPath reads the message id from a VERP return path
// ("bounce-<message id>@<MAIL FROM domain>"), as Accept makes them.
func MessageIDFromReturnPath(addr string) (string, bool) {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return "", false
	}
	local := addr[:at]
	if !strings.HasPrefix(local, "bounce-") || !strings.HasPrefix(local[len("bounce-"):], "0100") {
		return "", false
	}
	return local[len("bounce-"):], true
}

// MessageIDFromHeader reads the message id from a Message-ID field value
// Tidings wrote ("<message id@host>").
func MessageIDFromHeader(v string) (string, bool) {
	v = strings.Trim(strings.TrimSpace(v), "<>")
	id, _, ok := strings.Cut(v, "@")
	return id, ok && strings.HasPrefix(id, "0100")
}

// RecordFeedback attributes a bounce or complaint to its message: it
// publishes the Bounce or Complaint event to the message's configuration
// set and puts the addresses on the account's suppression list when the
// reasons that apply to the message say so (hard bounces for BOUNCE,
// complaints for COMPLAINT). fault.NotFound when the message is unknown
// (or was purged).
func (s *Service) RecordFeedback(ctx context.Context, f Feedback) error {
	m, err := s.st.GetMessage(ctx, f.MessageID)
	if err != nil {
		return err
	}
	var meta messageMeta
	if err := json.Unmarshal(m.Meta, &meta); err != nil {
		return err
	}
	if len(f.Recipients) == 0 {
		return fault.Invalidf("feedback about message %s names no recipient", f.MessageID)
	}
	now := s.now()
	fid := feedbackEventID(m.MessageID, now)
	ev := &Event{Mail: meta.Mail}
	reason := ""
	if f.Complaint {
		ev.EventType = "Complaint"
		c := &complaintEvent{Timestamp: sesTime(now), FeedbackID: fid, UserAgent: f.UserAgent, ComplaintFeedbackType: f.ComplaintFeedbackType}
		if !f.ArrivalDate.IsZero() {
			c.ArrivalDate = sesTime(f.ArrivalDate)
		}
		for _, r := range f.Recipients {
			c.ComplainedRecipients = append(c.ComplainedRecipients, complainedRecipient{EmailAddress: r.Email})
		}
		ev.Complaint = c
		if containsFold(meta.Reasons, "COMPLAINT") {
			reason = "COMPLAINT"
		}
	} else {
		ev.EventType = "Bounce"
		b := &bounceEvent{BounceType: f.BounceType, BounceSubType: f.BounceSubType, Timestamp: sesTime(now), FeedbackID: fid}
		if b.BounceType == "" {
			b.BounceType = "Undetermined"
		}
		if b.BounceSubType == "" {
			b.BounceSubType = "Undetermined"
		}
		if f.ReportingMTA != "" {
			b.ReportingMTA = f.ReportingMTA
		}
		for _, r := range f.Recipients {
			action := r.Action
			if action == "" {
				action = "failed"
			}
			b.BouncedRecipients = append(b.BouncedRecipients, bouncedRecipient{EmailAddress: r.Email, Action: action, Status: r.Status, DiagnosticCode: r.DiagnosticCode})
		}
		ev.Bounce = b
		if b.BounceType == "Permanent" && containsFold(meta.Reasons, "BOUNCE") {
			reason = "BOUNCE"
		}
	}
	s.publish(ctx, m.AccountID, meta.ConfigSet, ev)
	if reason == "" {
		return nil
	}
	return s.st.InTx(ctx, func(tx Tx) error {
		for _, r := range f.Recipients {
			if simulated(r.Email) != simNone {
				continue
			}
			if err := tx.PutSuppressed(ctx, &Suppressed{AccountID: m.AccountID, Email: normalizeAddress(r.Email), Reason: reason,
				MessageID: m.MessageID, FeedbackID: fid, UpdatedAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
}
