// Package feedback parses the mail that comes back after a send: delivery
// status notifications (RFC 3464, and the common non-standard bounce
// formats of qmail, Exim, Postfix, Microsoft Exchange / Office 365 and
// Gmail) and complaint feedback reports (ARF, RFC 5965). It classifies
// bounces into the SES bounce types and subtypes and maps complaints to
// the SES complaint fields, and extracts the original message's
// Message-ID and headers so that a report attributes to the sent message.
//
// The parsers take untrusted input: they never panic, read at most
// MaxReportBytes, and are lenient, taking what they can of a malformed
// report; they fail only when the input is not a report at all.
package feedback

import (
	"bytes"
	"errors"
	"io"
	"net/mail"
	"regexp"
	"strings"
	"time"
)

// ErrNotBounce is returned by ParseDSN for a message that is not a
// delivery status notification in any format it knows.
var ErrNotBounce = errors.New("feedback: not a delivery status notification")

// Format names the kind of report a bounce was read from.
type Format string

const (
	FormatRFC3464  Format = "rfc3464"  // multipart/report; report-type=delivery-status
	FormatQmail    Format = "qmail"    // "Hi. This is the qmail-send program"
	FormatExim     Format = "exim"     // "Mail delivery failed: returning message to sender"
	FormatPostfix  Format = "postfix"  // "This is the mail system at host", without a DSN part
	FormatExchange Format = "exchange" // Exchange / Office 365 NDR text, without a DSN part
	FormatGmail    Format = "gmail"    // "Delivery Status Notification (Failure)" text
	FormatUnknown  Format = "unknown"  // a bounce recognized by its subject or sender only
)

// Bounce is a parsed delivery status notification.
type Bounce struct {
	Format Format `json:"format"`
	// Type and SubType are the SES classification of the whole
	// notification: Permanent if any recipient failed permanently, else
	// Transient, else Undetermined; the subtype is that recipient's.
	Type    BounceType    `json:"bounceType"`
	SubType BounceSubType `json:"bounceSubType"`
	// Delayed is true when no recipient failed and some were only delayed
	// (Action: delayed): a delay warning, not a bounce.
	Delayed bool `json:"delayed,omitempty"`
	// Per-message fields of RFC 3464 2.2.
	ReportingMTA       string    `json:"reportingMta,omitempty"`
	OriginalEnvelopeID string    `json:"originalEnvelopeId,omitempty"`
	ArrivalDate        time.Time `json:"arrivalDate,omitzero"`
	// Recipients are the recipients the notification reports on.
	Recipients []Recipient `json:"bouncedRecipients"`
	// Original is the message that bounced (nil when the notification
	// carries nothing of it).
	Original *Original `json:"original,omitempty"`
}

// Recipient is one recipient of a notification (RFC 3464 2.3).
type Recipient struct {
	// EmailAddress is the Final-Recipient's address.
	EmailAddress      string `json:"emailAddress"`
	OriginalRecipient string `json:"originalRecipient,omitempty"`
	// Action is failed, delayed, delivered, relayed or expanded.
	Action string `json:"action,omitempty"`
	// Status is the enhanced status code (RFC 3463), e.g. "5.1.1".
	Status string `json:"status,omitempty"`
	// DiagnosticCode is the remote server's answer, e.g. "smtp; 550 5.1.1
	// user unknown".
	DiagnosticCode  string        `json:"diagnosticCode,omitempty"`
	RemoteMTA       string        `json:"remoteMta,omitempty"`
	LastAttemptDate time.Time     `json:"lastAttemptDate,omitzero"`
	Type            BounceType    `json:"bounceType"`
	SubType         BounceSubType `json:"bounceSubType"`
}

// ParseDSN parses a delivery status notification: RFC 3464 when it has a
// message/delivery-status part (or message/global-delivery-status, RFC
// 6533), else the text of the common non-standard formats. It returns
// ErrNotBounce when the message is none of these.
func ParseDSN(r io.Reader) (*Bounce, error) {
	raw, err := readAll(r)
	if err != nil && len(raw) == 0 {
		return nil, err
	}
	parts := walk(raw)
	b := &Bounce{}
	for _, p := range parts {
		switch p.ctype {
		case "message/delivery-status", "message/global-delivery-status":
			if b.Format == "" {
				b.Format = FormatRFC3464
				parseStatusFields(b, p.body)
			}
		case "message/rfc822", "message/global":
			if b.Original == nil || len(b.Original.Headers) == 0 {
				b.Original = orElse(original(p.body, true), b.Original)
			}
		case "text/rfc822-headers", "message/rfc822-headers", "message/global-headers":
			if b.Original == nil || len(b.Original.Headers) == 0 {
				b.Original = orElse(original(p.body, false), b.Original)
			}
		}
	}
	text := bodyText(parts)
	if b.Format == "" {
		top := parts[0].header
		if !parseText(b, top, text) {
			return nil, ErrNotBounce
		}
	}
	if b.Original == nil {
		b.Original = quotedOriginal(text)
	}
	finish(b, text)
	return b, nil
}

func orElse(o, fallback *Original) *Original {
	if o == nil {
		return fallback
	}
	return o
}

// bodyText joins the text/plain parts (the human-readable report), or
// the top-level body when the message is not multipart.
func bodyText(parts []*part) string {
	var sb strings.Builder
	for _, p := range parts {
		if p.ctype == "text/plain" && sb.Len() < MaxReportBytes/2 {
			sb.Write(p.body)
			sb.WriteString("\n")
		}
	}
	if sb.Len() == 0 {
		for _, p := range parts {
			if p.ctype == "text/html" {
				sb.WriteString(stripTags(string(p.body)))
			}
		}
	}
	return strings.ReplaceAll(sb.String(), "\r\n", "\n")
}

var tagRe = regexp.MustCompile(`(?s)<[^>]*>`)

func stripTags(s string) string {
	s = tagRe.ReplaceAllString(s, "\n")
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "&#39;", "'", "&quot;", `"`, "&nbsp;", " ").Replace(s)
}

// parseStatusFields reads the body of a message/delivery-status part: a
// block of per-message fields, then one block per recipient, separated by
// empty lines (RFC 3464 2.1).
func parseStatusFields(b *Bounce, body []byte) {
	body = bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n"))
	blocks := bytes.Split(bytes.TrimSpace(body), []byte("\n\n"))
	for i, blk := range blocks {
		h := parseHeaders(blk)
		if len(h) == 0 {
			continue
		}
		if i == 0 && h.get("Final-Recipient") == "" && h.get("Action") == "" {
			b.ReportingMTA = typedValue(h.get("Reporting-MTA"))
			b.OriginalEnvelopeID = h.get("Original-Envelope-Id")
			b.ArrivalDate = date(h.get("Arrival-Date"))
			if id := messageID(h.get("X-Original-Message-ID")); id != "" && b.Original == nil {
				// Gmail names the original here even when it returns
				// nothing of it.
				b.Original = &Original{MessageID: id}
			}
			continue
		}
		rc := Recipient{
			EmailAddress:      address(h.get("Final-Recipient")),
			OriginalRecipient: address(h.get("Original-Recipient")),
			Action:            strings.ToLower(firstWord(h.get("Action"))),
			Status:            statusCode(h.get("Status")),
			DiagnosticCode:    h.get("Diagnostic-Code"),
			RemoteMTA:         typedValue(h.get("Remote-MTA")),
			LastAttemptDate:   date(h.get("Last-Attempt-Date")),
		}
		if rc.EmailAddress == "" {
			rc.EmailAddress = rc.OriginalRecipient
		}
		if rc.EmailAddress == "" && rc.Action == "" {
			continue
		}
		if len(b.Recipients) < maxFields {
			b.Recipients = append(b.Recipients, rc)
		}
	}
}

// typedValue drops the type of "dns; mx.example.com".
func typedValue(v string) string {
	if _, rest, ok := strings.Cut(v, ";"); ok {
		return strings.TrimSpace(rest)
	}
	return strings.TrimSpace(v)
}

func firstWord(v string) string {
	if f := strings.Fields(v); len(f) > 0 {
		return f[0]
	}
	return ""
}

var statusRe = regexp.MustCompile(`\b([245])\.(\d{1,3})\.(\d{1,3})\b`)

// statusCode returns the enhanced status code in v, "" if none.
func statusCode(v string) string {
	if m := statusRe.FindString(v); m != "" {
		return m
	}
	return ""
}

// obsZones are the zone names of RFC 5322 4.3 (obs-zone), which Go's
// parser would otherwise read as UTC.
var obsZones = map[string]string{
	"UT": "+0000", "GMT": "+0000", "EST": "-0500", "EDT": "-0400", "CST": "-0600",
	"CDT": "-0500", "MST": "-0700", "MDT": "-0600", "PST": "-0800", "PDT": "-0700",
}

// date parses an RFC 5322 date, zero when it does not parse.
func date(v string) time.Time {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}
	}
	// A trailing comment ("(UTC)") goes; an obsolete zone name becomes
	// its offset.
	if i := strings.LastIndexByte(v, '('); i > 0 && strings.HasSuffix(v, ")") {
		v = strings.TrimSpace(v[:i])
	}
	if i := strings.LastIndexByte(v, ' '); i > 0 {
		if off, ok := obsZones[strings.ToUpper(v[i+1:])]; ok {
			v = v[:i+1] + off
		}
	}
	t, err := mail.ParseDate(v)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// finish fills what the report left out and classifies the bounce.
func finish(b *Bounce, text string) {
	failed, delayed := 0, 0
	for i := range b.Recipients {
		rc := &b.Recipients[i]
		if rc.Action == "" {
			rc.Action = "failed"
			if strings.HasPrefix(rc.Status, "4.") {
				rc.Action = "delayed"
			}
		}
		if rc.Status == "" {
			rc.Status = statusCode(rc.DiagnosticCode)
		}
		switch rc.Action {
		case "failed":
			failed++
		case "delayed":
			delayed++
		default:
			continue
		}
		rc.Type, rc.SubType = Classify(rc.Status, rc.DiagnosticCode)
		if rc.Action == "delayed" && rc.Type == Permanent {
			rc.Type = Transient
		}
	}
	b.Delayed = failed == 0 && delayed > 0
	b.Type, b.SubType = Undetermined, SubUndetermined
	for _, want := range []BounceType{Permanent, Transient} {
		for _, rc := range b.Recipients {
			if (rc.Action == "failed" || rc.Action == "delayed") && rc.Type == want {
				b.Type, b.SubType = rc.Type, rc.SubType
				return
			}
		}
	}
	if len(b.Recipients) == 0 {
		// Nothing per recipient: classify the report's text as a whole.
		t, st := Classify("", text)
		if t != Undetermined {
			b.Type, b.SubType = t, st
		}
	}
}

// quotedOriginal finds the returned message in the text of a bounce that
// quotes it inline rather than attaching it.
func quotedOriginal(text string) *Original {
	for _, m := range []struct {
		marker   string
		complete bool // the whole message follows, not only its header
	}{
		{"--- Below this line is a copy of the message.", true},           // qmail
		{"--- Enclosed are the original headers of the message.", false},  // qmail
		{"------ This is a copy of the message, including all the", true}, // Exim
		{"------ This is a copy of the message's headers.", false},        // Exim
		{"----- Original message -----", true},                            // Gmail
		{"----- Original message follows -----", true},                    // Sendmail
		{"------ Original message ------", true},
		{"-----Original Message-----", true},
		{"Original message headers:", false}, // Exchange
		{"----- Message header follows -----", false},
	} {
		i := strings.Index(text, m.marker)
		if i < 0 {
			continue
		}
		rest := text[i+len(m.marker):]
		if nl := strings.IndexByte(rest, '\n'); nl >= 0 {
			rest = rest[nl+1:]
		}
		rest = strings.TrimLeft(rest, "\n")
		if !m.complete {
			rest, _, _ = strings.Cut(rest, "\n\n")
		}
		if o := original([]byte(rest), m.complete); o != nil {
			return o
		}
	}
	// Last resort: a Message-ID line anywhere in the text.
	if m := msgIDLineRe.FindStringSubmatch(text); m != nil {
		return &Original{MessageID: messageID(m[1])}
	}
	return nil
}

var msgIDLineRe = regexp.MustCompile(`(?mi)^\s*Message-ID:\s*(<[^>\s]+>)`)
