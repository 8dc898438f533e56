package sending

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/feedback"
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
	// Only recipients of the message count: a report cannot put another
	// address on the suppression list. A complaint whose reporter
	// redacted the recipients is about all of them (as SES reports it).
	dest := map[string]bool{}
	for _, d := range meta.Mail.Destination {
		dest[normalizeAddress(d)] = true
	}
	var rcpts []FeedbackRecipient
	for _, r := range f.Recipients {
		if dest[normalizeAddress(r.Email)] {
			rcpts = append(rcpts, r)
		} else {
			s.log.Warn("feedback names an address the message was not sent to; ignored", "message_id", f.MessageID, "address", r.Email)
		}
	}
	if len(f.Recipients) == 0 && f.Complaint {
		for _, d := range meta.Mail.Destination {
			rcpts = append(rcpts, FeedbackRecipient{Email: d})
		}
	}
	f.Recipients = rcpts
	if len(f.Recipients) == 0 {
		return fault.Invalidf("feedback about message %s names no recipient of it", f.MessageID)
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
	s.publishFor(ctx, m.AccountID, &meta, ev)
	// GetSendStatistics counts hard bounces and complaints of real
	// recipients (not the simulator's).
	counted := 0
	for _, r := range f.Recipients {
		if simulated(r.Email) == simNone {
			counted++
		}
	}
	bounces, complaints := 0, 0
	switch {
	case f.Complaint:
		complaints = counted
	case ev.Bounce.BounceType == "Permanent":
		bounces = counted
	}
	return s.st.InTx(ctx, func(tx Tx) error {
		if bounces+complaints > 0 {
			if err := tx.AddFeedbackCounts(ctx, m.AccountID, now, bounces, complaints); err != nil {
				return err
			}
		}
		if reason == "" {
			return nil
		}
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

// IsReturnPath reports whether addr is the VERP return path of a message
// this service sent and still knows (KeepDone): mail to it is a bounce or
// a complaint about that message, for HandleReport.
func (s *Service) IsReturnPath(ctx context.Context, addr string) (bool, error) {
	id, ok := MessageIDFromReturnPath(addr)
	if !ok {
		return false, nil
	}
	m, err := s.st.GetMessage(ctx, id)
	if fault.Is(err, fault.NotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var meta messageMeta
	if err := json.Unmarshal(m.Meta, &meta); err != nil {
		return false, nil
	}
	// The whole address must be the one the message went out with: the
	// id alone, on another domain, proves nothing.
	return strings.EqualFold(meta.MailFrom, addr), nil
}

// HandleReport reads a message that arrived for the return path rcpt (see
// IsReturnPath) — a delivery status notification (RFC 3464, or a common
// non-standard bounce) or an abuse report (ARF, RFC 5965) — and records it
// with RecordFeedback: Bounce events by bounce type and subtype (and
// suppression of hard bounces), or a Complaint event (and suppression).
// A delay warning records nothing. It returns what it did, for the
// operator; fault.Invalid when the message is no report.
func (s *Service) HandleReport(ctx context.Context, rcpt string, raw io.Reader) (string, error) {
	id, ok := MessageIDFromReturnPath(rcpt)
	if !ok {
		return "", fault.Invalidf("%s is not a return path of Tidings", rcpt)
	}
	rep, err := feedback.Parse(raw)
	switch {
	case errors.Is(err, feedback.ErrNotBounce):
		return "", fault.Invalidf("the message to %s is neither a delivery status notification nor an ARF report", rcpt)
	case err != nil:
		return "", err
	}
	if c := rep.Complaint; c != nil {
		return s.recordComplaint(ctx, id, c)
	}
	b := rep.Bounce
	if b.Delayed {
		return fmt.Sprintf("delay warning about %s: no event", id), nil
	}
	// One Bounce event per kind of failure, so that a transient failure
	// beside a permanent one is not suppressed with it.
	type kind struct{ typ, sub string }
	groups := map[kind][]FeedbackRecipient{}
	var order []kind
	for _, r := range b.Recipients {
		if a := strings.ToLower(r.Action); a != "" && a != "failed" {
			continue // delivered, relayed, expanded, delayed
		}
		k := kind{string(r.Type), string(r.SubType)}
		if k.typ == "" || k.typ == string(feedback.Undetermined) {
			k = kind{string(b.Type), string(b.SubType)}
		}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], FeedbackRecipient{Email: r.EmailAddress, Status: r.Status, DiagnosticCode: r.DiagnosticCode, Action: "failed"})
	}
	if len(order) == 0 {
		return "", fault.Invalidf("the notification about %s reports no failed recipient", id)
	}
	var done []string
	for _, k := range order {
		f := Feedback{MessageID: id, BounceType: k.typ, BounceSubType: k.sub, Recipients: groups[k], ArrivalDate: b.ArrivalDate}
		if b.ReportingMTA != "" {
			f.ReportingMTA = "dns; " + b.ReportingMTA
		}
		if err := s.RecordFeedback(ctx, f); err != nil {
			return "", err
		}
		done = append(done, fmt.Sprintf("%s/%s bounce of %d recipient(s)", k.typ, k.sub, len(groups[k])))
	}
	return strings.Join(done, ", ") + " about " + id, nil
}

// recordComplaint records an ARF report about message id.
func (s *Service) recordComplaint(ctx context.Context, id string, c *feedback.Complaint) (string, error) {
	f := Feedback{MessageID: id, Complaint: true, ComplaintFeedbackType: c.FeedbackType, UserAgent: c.UserAgent,
		ReportingMTA: c.ReportingMTA, ArrivalDate: c.ArrivalDate}
	for _, a := range c.ComplainedRecipients {
		f.Recipients = append(f.Recipients, FeedbackRecipient{Email: a})
	}
	if err := s.RecordFeedback(ctx, f); err != nil {
		return "", err
	}
	return fmt.Sprintf("complaint (%s) about %s", c.FeedbackType, id), nil
}

// Feedback loops (Yahoo, Microsoft JMRP, and the others that take a
// sender's registration) mail their ARF reports to the one address the
// sender registered, not to the return path of the message. Such a
// report is attributed by what its original carries: the Message-ID
// Tidings gave the message, else the VERP return path it went out with
// (the report's Original-Mail-From or the original's Return-Path).

// ComplaintAbout reads a message that arrived at an ingress point of
// accountID, addressed to anything, and returns the id of the message of
// that account it is an abuse report (ARF) about; "" when it is no ARF
// report or names no message the account sent that Tidings still knows
// (KeepDone). Only the account's own messages count: a report mailed to
// one account's ingress point cannot complain about another's mail.
func (s *Service) ComplaintAbout(ctx context.Context, accountID string, raw io.Reader) (string, error) {
	c, err := feedback.ParseARF(raw)
	if err != nil {
		return "", nil // no complaint: nothing to attribute
	}
	_, id, err := s.complained(ctx, accountID, c)
	return id, err
}

// complained finds the message of accountID a complaint is about: by
// the original's Message-ID, then by the return paths it gives.
func (s *Service) complained(ctx context.Context, accountID string, c *feedback.Complaint) (string, string, error) {
	type ref struct{ how, id, returnPath string }
	var refs []ref
	if c.Original != nil {
		if id, ok := MessageIDFromHeader(c.Original.MessageID); ok {
			refs = append(refs, ref{how: "Message-ID", id: id})
		}
	}
	for _, rp := range c.ReturnPaths() {
		if id, ok := MessageIDFromReturnPath(rp); ok {
			refs = append(refs, ref{how: "return path", id: id, returnPath: rp})
		}
	}
	for _, r := range refs {
		m, err := s.st.GetMessage(ctx, r.id)
		if fault.Is(err, fault.NotFound) {
			continue
		}
		if err != nil {
			return "", "", err
		}
		if m.AccountID != accountID {
			s.log.Warn("complaint names a message of another account; not attributed", "message_id", r.id, "account", accountID, "by", r.how)
			continue
		}
		if r.returnPath != "" {
			var meta messageMeta
			if err := json.Unmarshal(m.Meta, &meta); err != nil || !strings.EqualFold(meta.MailFrom, r.returnPath) {
				continue // the id alone, on another domain, proves nothing
			}
		}
		return r.how, r.id, nil
	}
	return "", "", nil
}

// HandleComplaint records an ARF report that arrived at an ingress point
// of accountID for an address other than a return path (see
// ComplaintAbout) as a Complaint event, and puts the complained
// recipients (Original-Rcpt-To, or the original's To; all the
// message's recipients when the reporter redacted them) on the
// suppression list as a complaint at the return path would.
// fault.Invalid when it is no report about a message of the account.
func (s *Service) HandleComplaint(ctx context.Context, accountID string, raw io.Reader) (string, error) {
	c, err := feedback.ParseARF(raw)
	if errors.Is(err, feedback.ErrNotComplaint) {
		return "", fault.Invalidf("the message is not an ARF report")
	}
	if err != nil {
		return "", err
	}
	how, id, err := s.complained(ctx, accountID, c)
	if err != nil {
		return "", err
	}
	if id == "" {
		return "", fault.Invalidf("the ARF report names no message this account sent (by Message-ID or return path)")
	}
	d, err := s.recordComplaint(ctx, id, c)
	if err != nil {
		return "", err
	}
	return d + " (found by its " + how + ")", nil
}
