package sending

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"

	"github.com/tidings/tidings/internal/model/sesv2"
)

// The SES event publishing format ("Contents of event data that Amazon
// SES publishes"): one JSON object per event with eventType, the mail
// object of the message, and the object of its type.

type mailHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type commonHeaders struct {
	From      []string `json:"from,omitempty"`
	ReplyTo   []string `json:"replyTo,omitempty"`
	To        []string `json:"to,omitempty"`
	Cc        []string `json:"cc,omitempty"`
	Date      string   `json:"date,omitempty"`
	MessageID string   `json:"messageId,omitempty"`
	Subject   string   `json:"subject,omitempty"`
}

// mailCore is what the mail objects of events and of notifications
// (notify.go) share.
type mailCore struct {
	Timestamp        string   `json:"timestamp"`
	Source           string   `json:"source"`
	SourceArn        string   `json:"sourceArn"`
	SendingAccountID string   `json:"sendingAccountId"`
	MessageID        string   `json:"messageId"`
	Destination      []string `json:"destination"`
}

// mailObject is the "mail" object of every event.
type mailObject struct {
	mailCore
	HeadersTruncated bool                `json:"headersTruncated"`
	Headers          []mailHeader        `json:"headers"`
	CommonHeaders    commonHeaders       `json:"commonHeaders"`
	Tags             map[string][]string `json:"tags"`
}

// maxEventHeaders bounds the headers copied into events (SES truncates
// too, and says so in headersTruncated).
const maxEventHeaders = 10 << 10

func sesTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (s *Service) mailObject(ctx context.Context, acct, id string, now time.Time, o *Outgoing, headers []mailHeader, sc *sendContext) mailObject {
	m := mailObject{
		mailCore: mailCore{
			Timestamp:        sesTime(now),
			Source:           o.From.String(),
			SendingAccountID: acct,
			MessageID:        id,
			Destination:      append([]string{}, o.Recipients...),
		},
		Headers: []mailHeader{},
		Tags:    map[string][]string{},
	}
	ident := o.From.Address
	if at := strings.LastIndexByte(ident, '@'); at >= 0 {
		if sc.signDom != "" {
			ident = sc.signDom
		}
	}
	m.SourceArn = s.identityARN(acct, ident)
	size := 0
	for _, h := range headers {
		size += len(h.Name) + len(h.Value)
		if size > maxEventHeaders {
			m.HeadersTruncated = true
			break
		}
		m.Headers = append(m.Headers, h)
	}
	ch := commonHeaders{From: []string{o.From.String()}, To: o.To, Cc: o.Cc}
	for _, h := range headers {
		switch strings.ToLower(h.Name) {
		case "subject":
			ch.Subject = decodeWords(h.Value)
		case "date":
			ch.Date = h.Value
		case "message-id":
			ch.MessageID = h.Value
		case "reply-to":
			ch.ReplyTo = append(ch.ReplyTo, h.Value)
		}
	}
	m.CommonHeaders = ch
	for _, t := range o.Tags {
		m.Tags[str(t.Name)] = append(m.Tags[str(t.Name)], str(t.Value))
	}
	if sc.csName != "" {
		m.Tags["ses:configuration-set"] = []string{sc.csName}
	}
	if at := strings.LastIndexByte(o.From.Address, '@'); at >= 0 {
		m.Tags["ses:from-domain"] = []string{strings.ToLower(o.From.Address[at+1:])}
	}
	m.Tags["ses:caller-identity"] = []string{callerName(ctx)}
	op := o.Operation
	if op == "" {
		op = "SendEmail"
	}
	m.Tags["ses:operation"] = []string{op}
	return m
}

func decodeWords(v string) string {
	h := mail.Header{}
	h.Set("Subject", v)
	if d, err := h.Subject(); err == nil {
		return d
	}
	return v
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

// Event is one SES event record.
type Event struct {
	EventType     string          `json:"eventType"`
	Mail          mailObject      `json:"mail"`
	Send          *struct{}       `json:"send,omitempty"`
	Delivery      *deliveryEvent  `json:"delivery,omitempty"`
	Bounce        *bounceEvent    `json:"bounce,omitempty"`
	Complaint     *complaintEvent `json:"complaint,omitempty"`
	DeliveryDelay *delayEvent     `json:"deliveryDelay,omitempty"`
	Reject        *rejectEvent    `json:"reject,omitempty"`
	Failure       *failureEvent   `json:"failure,omitempty"`
	Open          *openEvent      `json:"open,omitempty"`
	Click         *clickEvent     `json:"click,omitempty"`
}

type deliveryEvent struct {
	Timestamp            string   `json:"timestamp"`
	ProcessingTimeMillis int64    `json:"processingTimeMillis"`
	Recipients           []string `json:"recipients"`
	SMTPResponse         string   `json:"smtpResponse"`
	ReportingMTA         string   `json:"reportingMTA"`
	RemoteMtaIP          string   `json:"remoteMtaIp,omitempty"`
}

type bouncedRecipient struct {
	EmailAddress   string `json:"emailAddress"`
	Action         string `json:"action,omitempty"`
	Status         string `json:"status,omitempty"`
	DiagnosticCode string `json:"diagnosticCode,omitempty"`
}

type bounceEvent struct {
	BounceType        string             `json:"bounceType"`
	BounceSubType     string             `json:"bounceSubType"`
	BouncedRecipients []bouncedRecipient `json:"bouncedRecipients"`
	Timestamp         string             `json:"timestamp"`
	FeedbackID        string             `json:"feedbackId"`
	ReportingMTA      string             `json:"reportingMTA,omitempty"`
	RemoteMtaIP       string             `json:"remoteMtaIp,omitempty"`
}

type complainedRecipient struct {
	EmailAddress string `json:"emailAddress"`
}

type complaintEvent struct {
	ComplainedRecipients  []complainedRecipient `json:"complainedRecipients"`
	Timestamp             string                `json:"timestamp"`
	FeedbackID            string                `json:"feedbackId"`
	ComplaintSubType      *string               `json:"complaintSubType"`
	UserAgent             string                `json:"userAgent,omitempty"`
	ComplaintFeedbackType string                `json:"complaintFeedbackType,omitempty"`
	ArrivalDate           string                `json:"arrivalDate,omitempty"`
}

type delayedRecipient struct {
	EmailAddress   string `json:"emailAddress"`
	Status         string `json:"status"`
	DiagnosticCode string `json:"diagnosticCode"`
}

type delayEvent struct {
	Timestamp            string             `json:"timestamp"`
	DelayType            string             `json:"delayType"`
	ExpirationTime       string             `json:"expirationTime"`
	DelayedRecipients    []delayedRecipient `json:"delayedRecipients"`
	ProcessingTimeMillis int64              `json:"processingTimeMillis"`
	ReportingMTA         string             `json:"reportingMTA"`
}

type rejectEvent struct {
	Reason string `json:"reason"`
}

type failureEvent struct {
	ErrorMessage string `json:"errorMessage"`
	TemplateName string `json:"templateName"`
}

// matchType is the MatchingEventTypes value of an eventType.
var matchType = map[string]sesv2.EventType{
	"Send": sesv2.EventTypeSend, "Delivery": sesv2.EventTypeDelivery, "Bounce": sesv2.EventTypeBounce,
	"Complaint": sesv2.EventTypeComplaint, "DeliveryDelay": sesv2.EventTypeDeliveryDelay, "Reject": sesv2.EventTypeReject,
	"Rendering Failure": sesv2.EventTypeRenderingFailure, "Open": sesv2.EventTypeOpen, "Click": sesv2.EventTypeClick,
}

// publish sends an event to every enabled destination of the
// configuration set that matches its type. Failures are logged: the
// Publisher is durable, and a delivery is not undone for want of an event.
func (s *Service) publish(ctx context.Context, acct, configSet string, ev *Event) {
	log := s.log.With("message_id", ev.Mail.MessageID, "event", ev.EventType)
	if configSet == "" {
		log.Debug("event (no configuration set)")
		return
	}
	c, _, err := s.loadConfigSet(ctx, s.st, acct, configSet)
	if err != nil {
		log.Warn("event not published: configuration set unreadable", "config_set", configSet, "err", err)
		return
	}
	body, err := json.Marshal(ev)
	if err != nil {
		log.Error("event not encoded", "err", err)
		return
	}
	want := matchType[ev.EventType]
	for _, d := range c.Destinations {
		if !deref(d.Enabled) || !containsType(d.MatchingEventTypes, want) {
			continue
		}
		arn := ""
		switch {
		case d.SnsDestination != nil:
			arn = str(d.SnsDestination.TopicArn)
		case d.EventBridgeDestination != nil:
			arn = str(d.EventBridgeDestination.EventBusArn)
		default:
			log.Debug("event destination kind not supported by Tidings; skipped", "destination", str(d.Name))
			continue
		}
		if s.cfg.Publisher == nil {
			log.Info("event not published: no publisher on this server", "destination", str(d.Name), "arn", arn)
			continue
		}
		if err := s.cfg.Publisher.Publish(ctx, acct, arn, body); err != nil {
			log.Warn("event not published", "destination", str(d.Name), "arn", arn, "err", err)
			continue
		}
		log.Debug("event published", "destination", str(d.Name), "arn", arn)
	}
}

func containsType(l []sesv2.EventType, t sesv2.EventType) bool {
	for _, x := range l {
		if x == t {
			return true
		}
	}
	return false
}

// renderingFailure publishes a Rendering Failure event for a template
// send that could not be rendered (best effort: no message was accepted).
func (s *Service) renderingFailure(ctx context.Context, o *Outgoing, rerr error) {
	acct, err := account(ctx)
	if err != nil || o.ConfigSet == "" || o.From == nil {
		return
	}
	now := s.now()
	msg := rerr.Error()
	if r, ok := rerr.(*Rejection); ok {
		msg = r.Message
	}
	ev := &Event{
		EventType: "Rendering Failure",
		Mail:      s.mailObject(ctx, acct, newMessageID(now), now, o, nil, &sendContext{csName: o.ConfigSet}),
		Failure:   &failureEvent{ErrorMessage: msg, TemplateName: o.TemplateName},
	}
	s.publish(ctx, acct, o.ConfigSet, ev)
}
