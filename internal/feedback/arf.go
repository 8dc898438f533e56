package feedback

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"time"
)

// ErrNotComplaint is returned by ParseARF for a message that is not an
// abuse feedback report.
var ErrNotComplaint = errors.New("feedback: not an ARF feedback report")

// The complaintFeedbackType values of SES, from the Feedback-Type
// registry of RFC 5965 7.3 (with not-spam of RFC 6430 and auth-failure of
// RFC 6591).
const (
	FeedbackAbuse       = "abuse"
	FeedbackAuthFailure = "auth-failure"
	FeedbackFraud       = "fraud"
	FeedbackNotSpam     = "not-spam"
	FeedbackOther       = "other"
	FeedbackVirus       = "virus"
)

// Complaint is a parsed ARF report (RFC 5965), with the fields of an SES
// complaint notification.
type Complaint struct {
	// FeedbackType is SES's complaintFeedbackType: one of the Feedback*
	// constants; a type outside the registry is "other" (RawFeedbackType
	// keeps it).
	FeedbackType    string `json:"complaintFeedbackType"`
	RawFeedbackType string `json:"rawFeedbackType,omitempty"`
	// UserAgent is SES's userAgent: the reporter's software.
	UserAgent string `json:"userAgent,omitempty"`
	Version   string `json:"version,omitempty"`
	// ArrivalDate is SES's arrivalDate: when the reporter received the
	// original (Arrival-Date, or the legacy Received-Date); zero if absent.
	ArrivalDate      time.Time `json:"arrivalDate,omitzero"`
	OriginalMailFrom string    `json:"originalMailFrom,omitempty"`
	// OriginalRcptTo are the Original-Rcpt-To addresses.
	OriginalRcptTo []string `json:"originalRcptTo,omitempty"`
	SourceIP       string   `json:"sourceIp,omitempty"`
	ReportedDomain string   `json:"reportedDomain,omitempty"`
	ReportingMTA   string   `json:"reportingMta,omitempty"`
	// OriginalEnvelopeID is the ENVID the sender gave (RFC 5965 3.2).
	OriginalEnvelopeID string `json:"originalEnvelopeId,omitempty"`
	// ComplainedRecipients are SES's complainedRecipients: the
	// Original-Rcpt-To addresses, or failing those the recipient named by
	// the original message (Microsoft's X-HmXmrOriginalRecipient, else its
	// To). Reporters often redact them; then it is empty and the sender
	// attributes by the original's Message-ID.
	ComplainedRecipients []string `json:"complainedRecipients"`
	// Original is the reported message (nil if the report carries none).
	Original *Original `json:"original,omitempty"`
}

// ParseARF parses an abuse feedback report: a multipart/report whose
// second part is message/feedback-report (RFC 5965 2). It returns
// ErrNotComplaint when there is no feedback-report part.
func ParseARF(r io.Reader) (*Complaint, error) {
	raw, err := readAll(r)
	if err != nil && len(raw) == 0 {
		return nil, err
	}
	parts := walk(raw)
	var c *Complaint
	for _, p := range parts {
		switch p.ctype {
		case "message/feedback-report":
			if c == nil {
				c = parseFeedbackFields(p.body)
			}
		case "message/rfc822", "message/global":
			if c != nil && c.Original == nil {
				c.Original = original(p.body, true)
			}
		case "text/rfc822-headers", "message/rfc822-headers", "message/global-headers":
			if c != nil && c.Original == nil {
				c.Original = original(p.body, false)
			}
		}
	}
	if c == nil {
		return nil, ErrNotComplaint
	}
	c.ComplainedRecipients = append([]string{}, c.OriginalRcptTo...)
	if len(c.ComplainedRecipients) == 0 && c.Original != nil {
		h := headers(c.Original.Headers)
		for _, v := range []string{h.get("X-HmXmrOriginalRecipient"), c.Original.To} {
			if a := address(firstAddress(v)); v != "" && strings.Contains(a, "@") && !redacted(a) {
				c.ComplainedRecipients = []string{a}
				break
			}
		}
	}
	return c, nil
}

func parseFeedbackFields(body []byte) *Complaint {
	h := parseHeaders(body)
	c := &Complaint{
		RawFeedbackType:  h.get("Feedback-Type"),
		UserAgent:        h.get("User-Agent"),
		Version:          h.get("Version"),
		OriginalMailFrom: address(h.get("Original-Mail-From")),
		SourceIP:         h.get("Source-IP"),
		ReportedDomain:   h.get("Reported-Domain"),
		ReportingMTA:     typedValue(h.get("Reporting-MTA")),
		// RFC 5965 3.2: Original-Envelope-Id.
		OriginalEnvelopeID: h.get("Original-Envelope-Id"),
	}
	c.ArrivalDate = date(h.get("Arrival-Date"))
	if c.ArrivalDate.IsZero() {
		c.ArrivalDate = date(h.get("Received-Date"))
	}
	for _, v := range h.all("Original-Rcpt-To") {
		if a := address(v); a != "" && !redacted(a) && len(c.OriginalRcptTo) < maxFields {
			c.OriginalRcptTo = append(c.OriginalRcptTo, a)
		}
	}
	switch t := strings.ToLower(firstWord(c.RawFeedbackType)); t {
	case FeedbackAbuse, FeedbackAuthFailure, FeedbackFraud, FeedbackNotSpam, FeedbackOther, FeedbackVirus:
		c.FeedbackType = t
	case "":
		// RFC 5965 3.1 requires the field; a report without it is abuse
		// in practice (older AOL and Yahoo reports).
		c.FeedbackType = FeedbackAbuse
	default:
		c.FeedbackType = FeedbackOther
	}
	return c
}

// firstAddress is the first of a comma-separated address list.
func firstAddress(v string) string {
	first, _, _ := strings.Cut(v, ",")
	return first
}

// redacted reports whether a reporter blanked the address (RFC 6590:
// "redacted@example.com", "xxxxxxx@…").
func redacted(a string) bool {
	local, _, _ := strings.Cut(strings.ToLower(a), "@")
	return local == "redacted" || local == "" || strings.Trim(local, "x*") == ""
}

// ReturnPaths are the envelope senders the report gives for the
// original: its Original-Mail-From field (RFC 5965 3.2) and the
// Return-Path field of the original, without duplicates or the null
// sender. A sender that gave each message its own return path (VERP)
// finds the message by them when the report did not come to that
// address — a feedback loop mails its reports to the address registered
// with it.
func (c *Complaint) ReturnPaths() []string {
	var out []string
	add := func(a string) {
		if a == "" || !strings.Contains(a, "@") {
			return
		}
		for _, x := range out {
			if strings.EqualFold(x, a) {
				return
			}
		}
		out = append(out, a)
	}
	add(c.OriginalMailFrom)
	if c.Original != nil {
		add(c.Original.ReturnPath)
	}
	return out
}

// Report is a message that came back: a bounce or a complaint.
type Report struct {
	Bounce    *Bounce
	Complaint *Complaint
}

// Parse reads a message that arrived at the bounce domain and returns the
// bounce or complaint it is. An ARF report is a complaint; anything else
// ParseDSN recognizes is a bounce; else ErrNotBounce.
func Parse(r io.Reader) (*Report, error) {
	raw, err := readAll(r)
	if err != nil && len(raw) == 0 {
		return nil, err
	}
	if c, err := ParseARF(bytes.NewReader(raw)); err == nil {
		return &Report{Complaint: c}, nil
	}
	b, err := ParseDSN(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	return &Report{Bounce: b}, nil
}
