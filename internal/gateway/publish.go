package gateway

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/mail"
	"net/textproto"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tidings/tidings/internal/fault"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
	"github.com/tidings/tidings/internal/rules"
)

// Publisher publishes an event to a topic named by an SNS topic ARN
// (internal/events). dedupKey makes it idempotent: a second publish with
// the same key publishes nothing, so a step re-run after a crash does not
// notify twice.
type Publisher interface {
	Publish(ctx context.Context, accountID, topicARN, dedupKey string, message []byte) error
}

// MaxSNSContent bounds the message a PublishToSns action may carry whole
// (PayloadType CONTENT), as SES does for its SNS action: larger messages
// fail the step.
const MaxSNSContent = 150 << 10

// snsNotification is the JSON a PublishToSns action publishes: the shape
// of SES's receiving notifications ("notificationType": "Received"), which
// code written for them already reads.
type snsNotification struct {
	NotificationType string     `json:"notificationType"`
	Mail             snsMail    `json:"mail"`
	Receipt          snsReceipt `json:"receipt"`
	Content          *string    `json:"content,omitempty"`
}

type snsMail struct {
	Timestamp        string            `json:"timestamp"`
	Source           string            `json:"source"`
	MessageID        string            `json:"messageId"`
	Destination      []string          `json:"destination"`
	HeadersTruncated bool              `json:"headersTruncated"`
	Headers          []snsHeader       `json:"headers"`
	CommonHeaders    map[string]any    `json:"commonHeaders"`
	Tidings          map[string]string `json:"tidings"`
}

type snsHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type snsReceipt struct {
	Timestamp    string            `json:"timestamp"`
	Recipients   []string          `json:"recipients"`
	SpfVerdict   map[string]string `json:"spfVerdict"`
	DkimVerdict  map[string]string `json:"dkimVerdict"`
	DmarcVerdict map[string]string `json:"dmarcVerdict"`
	DmarcPolicy  string            `json:"dmarcPolicy,omitempty"`
	Action       map[string]string `json:"action"`
}

// publishToSns publishes the message's notification (headers, or the
// whole content) to the action's topic.
func (g *Gateway) publishToSns(ctx context.Context, q *queued, s *Step, a *mm.SnsAction, added [][2]string) (outcome, error) {
	if g.cfg.Publisher == nil {
		return failed("PublishToSns: this server has no topics (internal error: no publisher)"), nil
	}
	topic := deref(a.TopicArn)
	encoding := string(deref(a.Encoding))
	if encoding == "" {
		encoding = string(mm.SnsNotificationEncodingUtf8)
	}
	payload := string(deref(a.PayloadType))
	if payload == "" {
		payload = string(mm.SnsNotificationPayloadTypeHeaders)
	}
	rc, _, err := g.openMessage(ctx, q, added, "")
	if err != nil {
		return outcome{}, err
	}
	defer rc.Close()
	var raw []byte
	if payload == string(mm.SnsNotificationPayloadTypeContent) {
		raw, err = io.ReadAll(io.LimitReader(rc, MaxSNSContent+1))
		if err != nil {
			return outcome{}, err
		}
		if len(raw) > MaxSNSContent {
			return failed("PublishToSns: the message is over %d KB, the most a notification carries; use PayloadType HEADERS", MaxSNSContent>>10), nil
		}
	} else if raw, err = readHeaderBlock(rc, 64<<10); err != nil {
		return outcome{}, err
	}
	hdr, truncated := parseHeaders(raw)
	now := g.cfg.Now().UTC().Format(time.RFC3339Nano)
	n := snsNotification{
		NotificationType: "Received",
		Mail: snsMail{
			Timestamp:        q.ReceivedAt.UTC().Format(time.RFC3339Nano),
			Source:           q.env.MailFrom,
			MessageID:        q.QueueID,
			Destination:      q.env.Recipients,
			HeadersTruncated: truncated,
			Headers:          hdr,
			CommonHeaders:    commonHeaders(hdr),
			Tidings:          map[string]string{"ingressPointId": q.IngressPointID, "ruleSetId": q.RuleSetID, "queueId": q.QueueID},
		},
		Receipt: snsReceipt{
			Timestamp:  now,
			Recipients: s.Recipients,
			Action:     map[string]string{"type": "SNS", "topicArn": topic, "encoding": encoding},
		},
	}
	if q.auth != nil {
		n.Receipt.SpfVerdict = map[string]string{"status": string(q.auth.SPF)}
		n.Receipt.DkimVerdict = map[string]string{"status": string(q.auth.DKIM)}
		n.Receipt.DmarcVerdict = map[string]string{"status": string(q.auth.DMARC)}
		n.Receipt.DmarcPolicy = q.auth.DMARCPolicy
	}
	if payload == string(mm.SnsNotificationPayloadTypeContent) {
		var c string
		if encoding == string(mm.SnsNotificationEncodingBase64) || !utf8.Valid(raw) {
			c = base64.StdEncoding.EncodeToString(raw)
			n.Receipt.Action["encoding"] = string(mm.SnsNotificationEncodingBase64)
		} else {
			c = string(raw)
		}
		n.Content = &c
	}
	body, err := json.Marshal(n)
	if err != nil {
		return outcome{}, err
	}
	key := q.QueueID + "/" + strconv.Itoa(s.Index)
	if err := g.cfg.Publisher.Publish(ctx, q.AccountID, topic, key, body); err != nil {
		switch fault.KindOf(err) {
		case fault.Invalid, fault.AccessDenied, fault.NotFound, fault.QuotaExceeded:
			return failed("PublishToSns: %v", err), nil
		}
		return outcome{}, err
	}
	return done(fmt.Sprintf("published %s (%d bytes) to %s", strings.ToLower(payload), len(body), topic)), nil
}

// readHeaderBlock reads the header section of a message (up to the empty
// line), at most limit bytes.
func readHeaderBlock(r io.Reader, limit int) ([]byte, error) {
	br := bufio.NewReader(io.LimitReader(r, int64(limit)))
	var out []byte
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 && (string(line) == "\r\n" || string(line) == "\n") {
			return out, nil
		}
		out = append(out, line...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// parseHeaders lists the fields of a header block in order (at most 500,
// as SES's notifications truncate).
func parseHeaders(block []byte) ([]snsHeader, bool) {
	tr := textproto.NewReader(bufio.NewReader(strings.NewReader(string(block) + "\r\n")))
	var out []snsHeader
	for {
		line, err := tr.ReadContinuedLine()
		if err != nil || line == "" {
			return out, false
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if len(out) == 500 {
			return out, true
		}
		out = append(out, snsHeader{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)})
	}
}

// commonHeaders is SES's commonHeaders object: From, To, Cc, Subject,
// Date and Message-ID, decoded.
func commonHeaders(h []snsHeader) map[string]any {
	get := func(name string) string {
		for _, f := range h {
			if strings.EqualFold(f.Name, name) {
				return f.Value
			}
		}
		return ""
	}
	list := func(name string) []string {
		v := get(name)
		if v == "" {
			return nil
		}
		if addrs, err := mail.ParseAddressList(v); err == nil {
			out := make([]string, len(addrs))
			for i, a := range addrs {
				out[i] = a.String()
			}
			return out
		}
		return []string{rules.DecodeHeaderValue(v)}
	}
	c := map[string]any{}
	if v := list("From"); v != nil {
		c["from"] = v
	}
	if v := list("To"); v != nil {
		c["to"] = v
	}
	if v := list("Cc"); v != nil {
		c["cc"] = v
	}
	if v := get("Subject"); v != "" {
		c["subject"] = rules.DecodeHeaderValue(v)
	}
	if v := get("Date"); v != "" {
		c["date"] = v
	}
	if v := get("Message-ID"); v != "" {
		c["messageId"] = v
	}
	return c
}

// Sender hands a message to the outbound pipeline (internal/sending): the
// Send action. recipients are the envelope recipients; the sender's
// identity must be verified, as for SendRawEmail.
type Sender interface {
	SendRaw(ctx context.Context, accountID string, recipients []string, raw []byte) (messageID string, err error)
}

// MaxSendBytes is the largest message the Send action hands over, the
// limit of SES's send operations.
const MaxSendBytes = 40 << 20

// send is the Send action: the message (with the headers added so far)
// goes out through the send pipeline to the step's recipients. A refusal
// (unverified sender, suppressed, paused) fails the step with its reason.
func (g *Gateway) send(ctx context.Context, q *queued, s *Step, added [][2]string) (outcome, error) {
	if g.cfg.Sender == nil {
		return failed("Send: this server has no outbound pipeline (internal error: no sender)"), nil
	}
	rc, _, err := g.openMessage(ctx, q, added, "")
	if err != nil {
		return outcome{}, err
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, MaxSendBytes+1))
	if err != nil {
		return outcome{}, err
	}
	if len(raw) > MaxSendBytes {
		return failed("Send: the message is over %d MB, the most the send pipeline takes", MaxSendBytes>>20), nil
	}
	id, err := g.cfg.Sender.SendRaw(ctx, q.AccountID, s.Recipients, raw)
	if err != nil {
		if k := fault.KindOf(err); k == fault.Unavailable || k == fault.Internal {
			return outcome{}, err
		}
		return failed("Send: %v", err), nil
	}
	return done("sent as " + id), nil
}

// Feedback is the sending side's intake of bounces and complaints
// (internal/sending). Mail for a return path it recognizes — the VERP
// address a sent message went out with, on its custom MAIL FROM domain,
// whose MX points at an ingress point — is handed to it instead of the
// rule set, so that a user needs no rule for it: a "Feedback" step of the
// message's plan.
type Feedback interface {
	// IsReturnPath reports whether rcpt is the return path of a message
	// the sending side knows.
	IsReturnPath(ctx context.Context, rcpt string) (bool, error)
	// HandleReport parses raw (a DSN or an ARF report) and records it
	// against the message of rcpt; it says what it did. fault.Invalid or
	// fault.NotFound when the message is no report or names no recipient
	// of the sent message.
	HandleReport(ctx context.Context, rcpt string, raw io.Reader) (string, error)
	// ComplaintAbout returns the id of the message of accountID that raw
	// — mail that arrived at one of the account's ingress points for an
	// address that is no return path — is an abuse report (ARF) about,
	// "" when it is none: feedback loops mail their reports to the one
	// address a sender registered with them.
	ComplaintAbout(ctx context.Context, accountID string, raw io.Reader) (string, error)
	// HandleComplaint records such a report against its message; it says
	// what it did. fault.Invalid when it is none.
	HandleComplaint(ctx context.Context, accountID string, raw io.Reader) (string, error)
}

// FeedbackAction is the Action of the step that hands a message to
// Config.Feedback (no rule of the rule set has it).
const FeedbackAction = "Feedback"

// The RuleName of a Feedback step: mail for return paths, or an abuse
// report mailed to another address (a feedback loop's).
const (
	returnPathRule   = "(return path)"
	feedbackLoopRule = "(feedback loop)"
)

// feedbackRecipients splits the recipients of a message into the return
// paths Config.Feedback recognizes and the others.
func (g *Gateway) feedbackRecipients(ctx context.Context, rcpts []string) (fb, others []string, err error) {
	if g.cfg.Feedback == nil {
		return nil, rcpts, nil
	}
	for _, r := range rcpts {
		ok, err := g.cfg.Feedback.IsReturnPath(ctx, r)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			fb = append(fb, r)
		} else {
			others = append(others, r)
		}
	}
	return fb, others, nil
}

// feedbackLoopReport reports whether a message whose header is hdr is an
// abuse report (ARF, RFC 5965: multipart/report of report-type
// feedback-report) about a message the account sent, so that it gets a
// Feedback step for the recipients it was mailed to. Those recipients go
// through the rule set as well: the address is the user's (abuse@,
// fbl@), and what else happens to its mail is the rule set's to say.
func (g *Gateway) feedbackLoopReport(ctx context.Context, log *slog.Logger, q *queued, hdr textproto.MIMEHeader) (bool, error) {
	if g.cfg.Feedback == nil {
		return false, nil
	}
	mt, params, err := mime.ParseMediaType(hdr.Get("Content-Type"))
	if err != nil || mt != "multipart/report" {
		return false, nil
	}
	if rt := params["report-type"]; rt != "" && !strings.EqualFold(rt, "feedback-report") {
		return false, nil
	}
	rc, err := g.openSpooled(ctx, q.Message)
	if err != nil {
		return false, err
	}
	defer rc.Close()
	id, err := g.cfg.Feedback.ComplaintAbout(ctx, q.AccountID, rc)
	if err != nil {
		return false, err
	}
	if id != "" {
		log.Info("abuse report about a sent message, mailed to a feedback-loop address", "message_id", id)
	}
	return id != "", nil
}

// feedback is the Feedback step: the message as received, once per
// return path it was sent to.
func (g *Gateway) feedback(ctx context.Context, q *queued, s *Step) (outcome, error) {
	if g.cfg.Feedback == nil {
		return failed("Feedback: this server has no sending service"), nil
	}
	if s.RuleName == feedbackLoopRule {
		// One report, whatever addresses it was mailed to.
		rc, err := g.openReceived(ctx, q, nil)
		if err != nil {
			return outcome{}, err
		}
		d, err := g.cfg.Feedback.HandleComplaint(ctx, q.AccountID, rc)
		rc.Close()
		switch k := fault.KindOf(err); {
		case err == nil:
			return done(d), nil
		case k == fault.Unavailable || k == fault.Internal:
			return outcome{}, err
		default:
			return failed("%v", err), nil
		}
	}
	var details, errs []string
	for _, rcpt := range s.Recipients {
		rc, err := g.openReceived(ctx, q, nil)
		if err != nil {
			return outcome{}, err
		}
		d, err := g.cfg.Feedback.HandleReport(ctx, rcpt, rc)
		rc.Close()
		switch k := fault.KindOf(err); {
		case err == nil:
			details = append(details, d)
		case k == fault.Unavailable || k == fault.Internal:
			return outcome{}, err
		default:
			errs = append(errs, rcpt+": "+err.Error())
		}
	}
	if len(errs) > 0 {
		o := failed("%s", strings.Join(errs, "; "))
		o.detail = strings.Join(details, "; ")
		return o, nil
	}
	return done(strings.Join(details, "; ")), nil
}
