package sending

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"github.com/tidings/tidings/internal/blob"
	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/model/sesv2"
)

// Reason says which SES exception a refused send is; the wire layer maps
// it to the exception name of each API.
type Reason string

const (
	ReasonMessageRejected   Reason = "MessageRejected"
	ReasonBadRequest        Reason = "BadRequest"
	ReasonAccountPaused     Reason = "AccountSendingPaused"
	ReasonConfigSetPaused   Reason = "ConfigurationSetSendingPaused"
	ReasonMailFromNotVerify Reason = "MailFromDomainNotVerified"
	ReasonTemplateMissing   Reason = "TemplateDoesNotExist"
)

// Rejection is a send refused for a reason SES has a named exception for.
// Nothing was queued.
type Rejection struct {
	Reason  Reason
	Message string
}

func (r *Rejection) Error() string { return string(r.Reason) + ": " + r.Message }

func reject(r Reason, format string, args ...any) *Rejection {
	return &Rejection{Reason: r, Message: fmt.Sprintf(format, args...)}
}

// Outgoing is a message to accept, whatever API or form it came by.
type Outgoing struct {
	// From is the From address (SES's Source / FromEmailAddress).
	From *mail.Address
	// ReturnPath, when set, is where bounces go (SES v1 ReturnPath); it
	// does not change the envelope here.
	Recipients []string // envelope recipients (To, Cc, Bcc)
	To, Cc     []string // for commonHeaders
	ConfigSet  string
	Tags       []sesv2.MessageTag
	// Exactly one of Simple and Raw.
	Simple *simpleMessage
	Raw    *rawMessage
	// TemplateName, for RenderingFailure events.
	TemplateName string
	// EnvelopeFrom is the MAIL FROM of a message submitted over SMTP:
	// it must be a verified identity too, and is the return path unless
	// a custom MAIL FROM domain says otherwise.
	EnvelopeFrom string
	// Operation names the way the message came for the ses:operation tag
	// of its events; "" is SendEmail.
	Operation string
}

// messageMeta is the JSON Meta of a stored message.
type messageMeta struct {
	MailFrom   string     `json:"mail_from"`
	ConfigSet  string     `json:"config_set,omitempty"`
	Mail       mailObject `json:"mail"`
	FeedbackID string     `json:"feedback_id,omitempty"`
	Reasons    []string   `json:"suppress_reasons"`
	GiveUp     int64      `json:"give_up_seconds,omitempty"`
	RequireTLS bool       `json:"require_tls,omitempty"`
	Suppressed []string   `json:"suppressed,omitempty"`
	// ArchiveID is the archive of the set's ArchivingOptions.
	ArchiveID string `json:"archive_id,omitempty"`
	// Inline: the spooled copy is in the database (Message.Content), not
	// in the blob store.
	Inline bool `json:"inline,omitempty"`
	// SignDomain is the domain identity whose DKIM key signs the message
	// when it goes out (see signSpooled); empty for none. Messages
	// accepted before signing moved to delivery were spooled signed and
	// have none.
	SignDomain string `json:"sign_domain,omitempty"`
	// Notify is the sending identity's notification topics, as they
	// were when the message was accepted (notify.go).
	Notify *notifyTopics `json:"notify,omitempty"`
}

// sendContext is what the checks of a send find out.
type sendContext struct {
	acct      string
	account   *accountRecord
	configSet *configSetRecord
	csName    string
	signer    *identityRecord
	signDom   string
	mailFrom  string
	notify    *notifyTopics // of the identity that lets the sender send
}

// SendEmail is the SES v2 SendEmail: Simple, Raw or Template content.
func (s *Service) SendEmail(ctx context.Context, in *sesv2.SendEmailRequest) (*sesv2.SendEmailResponse, error) {
	out, err := s.Outgoing(ctx, in)
	if err != nil {
		return nil, err
	}
	id, err := s.Accept(ctx, out)
	if err != nil {
		return nil, err
	}
	return &sesv2.SendEmailResponse{MessageId: ptr(id)}, nil
}

// Outgoing turns a v2 SendEmail request into an Outgoing (templates are
// rendered here).
func (s *Service) Outgoing(ctx context.Context, in *sesv2.SendEmailRequest) (*Outgoing, error) {
	c := in.Content
	if c == nil {
		return nil, reject(ReasonBadRequest, "Content is required")
	}
	n := 0
	for _, set := range []bool{c.Simple != nil, c.Raw != nil, c.Template != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, reject(ReasonBadRequest, "Content must have exactly one of Simple, Raw and Template")
	}
	dest := deref(in.Destination)
	o := &Outgoing{ConfigSet: str(in.ConfigurationSetName), Tags: in.EmailTags}
	var err error
	to, err := parseAddresses("ToAddresses", dest.ToAddresses)
	if err != nil {
		return nil, err
	}
	cc, err := parseAddresses("CcAddresses", dest.CcAddresses)
	if err != nil {
		return nil, err
	}
	bcc, err := parseAddresses("BccAddresses", dest.BccAddresses)
	if err != nil {
		return nil, err
	}
	replyTo, err := parseAddresses("ReplyToAddresses", in.ReplyToAddresses)
	if err != nil {
		return nil, err
	}
	for _, a := range to {
		o.To = append(o.To, a.String())
	}
	for _, a := range cc {
		o.Cc = append(o.Cc, a.String())
	}
	for _, l := range [][]*mail.Address{to, cc, bcc} {
		for _, a := range l {
			o.Recipients = append(o.Recipients, a.Address)
		}
	}
	if from := str(in.FromEmailAddress); from != "" {
		if o.From, err = parseAddress("FromEmailAddress", from); err != nil {
			return nil, err
		}
	}
	if c.Raw != nil {
		if len(c.Raw.Data) > MaxMessageBytes {
			return nil, reject(ReasonMessageRejected, "Message length is more than %d bytes", MaxMessageBytes)
		}
		raw, err := parseRaw(c.Raw.Data)
		if err != nil {
			return nil, err
		}
		o.Raw = raw
		o.To, o.Cc = nil, nil // the commonHeaders of a raw message are its own
		return o, s.fromRaw(o, raw, in.Destination == nil)
	}
	if o.From == nil {
		return nil, reject(ReasonBadRequest, "FromEmailAddress is required for Simple and Template content")
	}
	simple := &simpleMessage{From: o.From, To: to, Cc: cc, ReplyTo: replyTo}
	if c.Simple != nil {
		m := c.Simple
		simple.Subject = str(deref(m.Subject).Data)
		if b := m.Body; b != nil {
			if b.Text != nil {
				simple.Text, simple.TextCharset = str(b.Text.Data), str(b.Text.Charset)
			}
			if b.Html != nil {
				simple.HTML, simple.HTMLCharset = str(b.Html.Data), str(b.Html.Charset)
			}
		}
		simple.Headers, simple.Attachments = m.Headers, m.Attachments
	} else {
		t := c.Template
		o.TemplateName = str(t.TemplateName)
		subj, html, text, err := s.render(ctx, t)
		if err != nil {
			s.renderingFailure(ctx, o, err)
			return nil, err
		}
		simple.Subject, simple.HTML, simple.Text = subj, html, text
		simple.Headers, simple.Attachments = t.Headers, t.Attachments
	}
	o.Simple = simple
	return o, nil
}

// render renders a Template content through the TemplateRenderer.
func (s *Service) render(ctx context.Context, t *sesv2.Template) (string, string, string, error) {
	if s.cfg.Renderer == nil {
		return "", "", "", reject(ReasonBadRequest, "Templates are not available on this server")
	}
	data := str(t.TemplateData)
	if data == "" {
		data = "{}"
	}
	if !json.Valid([]byte(data)) {
		return "", "", "", reject(ReasonBadRequest, "TemplateData is not valid JSON")
	}
	acct, err := account(ctx)
	if err != nil {
		return "", "", "", err
	}
	var subj, html, text string
	switch {
	case t.TemplateContent != nil:
		tc := t.TemplateContent
		subj, html, text, err = s.cfg.Renderer.RenderInline(ctx, str(tc.Subject), str(tc.Html), str(tc.Text), data)
	case t.TemplateName != nil:
		subj, html, text, err = s.cfg.Renderer.Render(ctx, acct, str(t.TemplateName), data)
	default:
		return "", "", "", reject(ReasonBadRequest, "Template needs TemplateName, TemplateArn or TemplateContent")
	}
	switch {
	case fault.Is(err, fault.NotFound):
		return "", "", "", reject(ReasonTemplateMissing, "Template %s does not exist", str(t.TemplateName))
	case err != nil && isInfraError(err):
		return "", "", "", err
	case err != nil:
		return "", "", "", reject(ReasonMessageRejected, "Rendering of the template failed: %v", err)
	}
	return subj, html, text, nil
}

// isInfraError tells a failure to render (the template's or the data's
// fault: a Rendering Failure) from a failure of the renderer's storage,
// which is the server's and is retried by the client.
func isInfraError(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var fe *fault.Error
	return errors.As(err, &fe) && (fe.Kind == fault.Unavailable || fe.Kind == fault.Internal)
}

// fromRaw fills the sender and recipients of a Raw send from its header
// where the request leaves them out, and applies and strips the
// X-SES-* fields.
func (s *Service) fromRaw(o *Outgoing, raw *rawMessage, recipientsFromHeader bool) error {
	h := &raw.Header
	if o.From == nil {
		f := h.Get("From")
		if f == "" {
			return reject(ReasonMessageRejected, "Missing required header 'From'.")
		}
		mh := mail.Header{Header: message.Header{Header: *h}}
		l, err := mh.AddressList("From")
		if err != nil || len(l) == 0 {
			return reject(ReasonMessageRejected, "Illegal address in header 'From': %q", f)
		}
		o.From = l[0]
	}
	mh := mail.Header{Header: message.Header{Header: *h}}
	if to, err := mh.AddressList("To"); err == nil {
		for _, a := range to {
			o.To = append(o.To, a.String())
		}
	}
	if cc, err := mh.AddressList("Cc"); err == nil {
		for _, a := range cc {
			o.Cc = append(o.Cc, a.String())
		}
	}
	if recipientsFromHeader {
		for _, k := range []string{"To", "Cc", "Bcc"} {
			l, err := mh.AddressList(k)
			if err != nil {
				return reject(ReasonMessageRejected, "Illegal address in header '%s': %v", k, err)
			}
			for _, a := range l {
				o.Recipients = append(o.Recipients, a.Address)
			}
		}
	}
	// SES reads these and removes them (they configure the send).
	if cs := strings.TrimSpace(h.Get("X-SES-CONFIGURATION-SET")); cs != "" && o.ConfigSet == "" {
		o.ConfigSet = cs
	}
	if tags := h.Get("X-SES-MESSAGE-TAGS"); tags != "" {
		for _, kv := range strings.Split(tags, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
			if !ok || strings.TrimSpace(k) == "" {
				return reject(ReasonMessageRejected, "Invalid X-SES-MESSAGE-TAGS header: %q", tags)
			}
			o.Tags = append(o.Tags, sesv2.MessageTag{Name: ptr(strings.TrimSpace(k)), Value: ptr(strings.TrimSpace(v))})
		}
	}
	for _, k := range []string{"X-SES-CONFIGURATION-SET", "X-SES-MESSAGE-TAGS", "X-SES-SOURCE-ARN", "X-SES-FROM-ARN", "X-SES-RETURN-PATH-ARN", "Bcc"} {
		h.Del(k)
	}
	return nil
}

// Accept validates, composes and spools a message and returns its
// MessageId once it is durable: the composed message fsynced in the blob
// store, its row and delivery job committed in one transaction. The DKIM
// signature is added when the message goes out (signSpooled): an RSA-2048
// signature costs about a millisecond of CPU, as much as the rest of the
// accept, and the caller need not wait for it.
func (s *Service) Accept(ctx context.Context, o *Outgoing) (string, error) {
	acct, err := account(ctx)
	if err != nil {
		return "", err
	}
	now := s.now()
	sc, err := s.checks(ctx, acct, o)
	if err != nil {
		return "", err
	}
	id := newMessageID(now)

	// Headers Tidings adds (kept when the sender set them).
	tags := map[string]string{}
	for _, t := range o.Tags {
		tags[str(t.Name)] = str(t.Value)
	}
	feedbackID := fmt.Sprintf("%s:%s:%s:%s", feedbackField(tags["ses:feedback-id-a"]), feedbackField(tags["ses:feedback-id-b"]),
		stableID(acct, s.cfg.Region), feedbackField(s.cfg.SenderID))
	extra := [][2]string{
		{"Date", dateHeader(now)},
		{"Message-ID", messageIDHeader(id, s.cfg.Hostname)},
		{"Feedback-ID", feedbackID},
	}
	var msg []byte
	if o.Simple != nil {
		sm := *o.Simple
		if sm.HTML != "" && sc.configSet != nil {
			// Open and click tracking, before signing.
			sm.HTML = s.track(sc.configSet, id, sm.HTML)
		}
		if msg, err = composeSimple(&sm, extra); err != nil {
			return "", err
		}
	} else {
		for i := len(extra) - 1; i >= 0; i-- {
			if f := extra[i]; !o.Raw.Header.Has(f[0]) {
				o.Raw.Header.AddRaw([]byte(f[0] + ": " + f[1] + "\r\n"))
			}
		}
		if msg, err = o.Raw.bytes(); err != nil {
			return "", reject(ReasonMessageRejected, "Malformed MIME message: %v", err)
		}
		if sc.configSet != nil {
			// Open and click tracking of its HTML parts, before signing.
			msg = s.trackRaw(sc.configSet, id, msg)
		}
	}
	if len(msg) > MaxMessageBytes {
		return "", reject(ReasonMessageRejected, "Message length is more than %d bytes", MaxMessageBytes)
	}
	headers := headerList(msg)
	if sc.signer != nil {
		// The key must work now, not only when the message goes out.
		if _, err := sc.signer.DKIM.signer(); err != nil {
			return "", fmt.Errorf("DKIM key of %s: %w", sc.signDom, err)
		}
	}

	// Which recipients are suppressed is decided now: SES answers a send
	// to a suppressed address with a MessageId and a Bounce event.
	reasons := sc.configSet.suppressedReasons(sc.account)
	rcpts := make([]Recipient, 0, len(o.Recipients))
	seen := map[string]bool{}
	var suppressed []string
	for _, r := range o.Recipients {
		key := strings.ToLower(r)
		if seen[key] {
			continue
		}
		seen[key] = true
		st := RcptPending
		if sim := simulated(r); sim == simSuppressionList {
			st = RcptSuppressed
		} else if sim == simNone && len(reasons) > 0 {
			sp, err := s.st.GetSuppressed(ctx, acct, key)
			switch {
			case err == nil && containsFold(reasons, sp.Reason):
				st = RcptSuppressed
			case err != nil && !fault.Is(err, fault.NotFound):
				return "", err
			}
		}
		if st == RcptSuppressed {
			suppressed = append(suppressed, r)
		}
		rcpts = append(rcpts, Recipient{Recipient: r, State: st, UpdatedAt: now})
	}

	meta := messageMeta{
		MailFrom:   strings.ReplaceAll(sc.mailFrom, "{id}", id),
		ConfigSet:  sc.csName,
		FeedbackID: feedbackID,
		Reasons:    reasons,
		Suppressed: suppressed,
		Mail:       s.mailObject(ctx, acct, id, now, o, headers, sc),
	}
	if sc.signer != nil {
		meta.SignDomain = sc.signDom
	}
	meta.Notify = sc.notify
	if a := deref(sc.configSet).ArchivingOptions; a != nil && str(a.ArchiveArn) != "" {
		if meta.ArchiveID, err = archiveID(str(a.ArchiveArn), acct); err != nil {
			return "", err
		}
	}
	if d := deref(sc.configSet).DeliveryOptions; d != nil {
		meta.GiveUp = deref(d.MaxDeliverySeconds)
		meta.RequireTLS = d.TlsPolicy != nil && string(*d.TlsPolicy) == "REQUIRE"
	}
	// A small message is kept in the database, committed with its row;
	// a larger one goes to the blob store first.
	meta.Inline = len(msg) <= blob.InlineMax
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		return "", err
	}
	key := "sending/" + now.UTC().Format("2006/01/02") + "/" + id
	m := &Message{MessageID: id, AccountID: acct, State: MessageQueued, Meta: metaJSON, BlobKey: key, Recipients: len(rcpts), CreatedAt: now, UpdatedAt: now}
	if meta.Inline {
		m.Content = msg
	} else if err := s.cfg.Blobs.Put(ctx, key, bytes.NewReader(msg)); err != nil {
		return "", fmt.Errorf("sending: spool %s: %w", id, err)
	}
	err = s.commit(ctx, m, rcpts)
	if err != nil && meta.Inline {
		return "", fmt.Errorf("sending: spool %s: %w", id, err)
	}
	if err != nil {
		if derr := s.cfg.Blobs.Delete(context.WithoutCancel(ctx), key); derr != nil {
			s.log.Warn("could not remove the blob of a message not accepted", "message_id", id, "err", derr)
		}
		return "", fmt.Errorf("sending: spool %s: %w", id, err)
	}
	if m.LeaseOwner != "" {
		s.dispatched(m, &meta, rcpts)
	}
	s.countSent(acct, len(rcpts))
	s.log.Info("accepted", "message_id", id, "account", acct, "from", o.From.Address, "rcpts", len(rcpts),
		"suppressed", len(suppressed), "size", len(msg), "config_set", sc.csName, "dkim", sc.signDom)
	return id, nil
}

func containsFold(l []string, v string) bool {
	for _, x := range l {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

// checks applies the rules of a send that need the store: account and
// configuration set not paused, recipient count, sender verified, sandbox,
// rate and daily quota. It finds the DKIM key and the MAIL FROM.
func (s *Service) checks(ctx context.Context, acct string, o *Outgoing) (*sendContext, error) {
	sc := &sendContext{acct: acct}
	var err error
	if sc.account, err = s.loadAccount(ctx, s.st, acct); err != nil {
		return nil, err
	}
	if sc.account.SendingPaused {
		return nil, reject(ReasonAccountPaused, "Sending is paused for this account.")
	}
	n := len(o.Recipients)
	if n == 0 {
		return nil, reject(ReasonBadRequest, "At least one recipient is required")
	}
	if n > MaxRecipients {
		return nil, reject(ReasonBadRequest, "Recipient count exceeds %d.", MaxRecipients)
	}
	for _, r := range o.Recipients {
		if err := checkHeaderValue("A recipient", r); err != nil {
			return nil, err
		}
	}
	from := o.From.Address
	at := strings.LastIndexByte(from, '@')
	if at <= 0 {
		return nil, reject(ReasonMessageRejected, "Illegal address: %q", from)
	}
	fromDomain := strings.ToLower(from[at+1:])
	ids := s.identities(acct)
	rec, err := ids.verified(ctx, from)
	if err != nil {
		return nil, err
	}
	var unverified []string
	if rec == nil {
		unverified = append(unverified, from)
	}
	if ef := o.EnvelopeFrom; ef != "" && !strings.EqualFold(ef, from) {
		if i := strings.LastIndexByte(ef, '@'); i <= 0 || i == len(ef)-1 {
			return nil, reject(ReasonMessageRejected, "Illegal address: %q", ef)
		}
		if r, err := ids.verified(ctx, ef); err != nil {
			return nil, err
		} else if r == nil {
			unverified = append(unverified, ef)
		}
	}
	if rec != nil && !rec.Notify.empty() {
		sc.notify = rec.Notify
	}
	if len(unverified) > 0 {
		return nil, reject(ReasonMessageRejected, "Email address is not verified. The following identities failed the check in region %s: %s",
			strings.ToUpper(s.cfg.Region), strings.Join(unverified, ", "))
	}
	// The configuration set: the request's, else the identity's default.
	sc.csName = o.ConfigSet
	if sc.csName == "" {
		sc.csName = rec.ConfigurationSet
	}
	if sc.csName != "" {
		if sc.configSet, _, err = s.loadConfigSet(ctx, s.st, acct, sc.csName); err != nil {
			if fault.Is(err, fault.NotFound) {
				return nil, &fault.Error{Kind: fault.NotFound, Message: "Configuration set <" + sc.csName + "> does not exist.", ResourceType: "configuration-set", ResourceID: sc.csName}
			}
			return nil, err
		}
		if sc.configSet.SendingPaused {
			return nil, reject(ReasonConfigSetPaused, "Sending is paused for configuration set %s.", sc.csName)
		}
	}
	if sc.account.Sandbox {
		for _, r := range o.Recipients {
			if simulated(r) != simNone {
				continue
			}
			if ok, err := ids.verified(ctx, r); err != nil {
				return nil, err
			} else if ok == nil {
				return nil, reject(ReasonMessageRejected, "Email address is not verified. The following identities failed the check in region %s: %s",
					strings.ToUpper(s.cfg.Region), r)
			}
		}
	}
	// DKIM: the key of the From domain, or of a parent domain identity.
	for d := fromDomain; d != ""; d = parentDomain(d) {
		r, err := ids.get(ctx, d)
		if err != nil {
			return nil, err
		}
		if r == nil {
			continue
		}
		if r.signs() {
			sc.signer, sc.signDom = r, d
		}
		if r.MailFromDomain != "" && sc.mailFrom == "" {
			switch {
			case r.MailFromStatus == StatusSuccess:
				// VERP: the return path names the message, so that a
				// bounce arriving at the MAIL FROM domain attributes to
				// it whatever the bounce's format.
				sc.mailFrom = "bounce-{id}@" + r.MailFromDomain
			case r.MailFromBehavior == "REJECT_MESSAGE":
				return nil, reject(ReasonMailFromNotVerify, "The custom MAIL FROM domain %s of %s is not verified.", r.MailFromDomain, d)
			}
		}
		break
	}
	if sc.mailFrom == "" {
		sc.mailFrom = from
		if o.EnvelopeFrom != "" {
			sc.mailFrom = o.EnvelopeFrom
		}
	}
	if !s.limit.take(acct, n, s.cfg.MaxSendRate, s.now()) {
		return nil, &fault.Error{Kind: fault.Throttled, Message: "Maximum sending rate exceeded."}
	}
	sent, err := s.sentLast24h(ctx, acct)
	if err != nil {
		return nil, err
	}
	if float64(sent+int64(n)) > s.cfg.Max24HourSend {
		return nil, reject(ReasonMessageRejected, "Daily message quota exceeded.")
	}
	return sc, nil
}

func parentDomain(d string) string {
	_, rest, ok := strings.Cut(d, ".")
	if !ok || !strings.Contains(rest, ".") {
		return ""
	}
	return rest
}

// identityReader reads the identities of one account for one send,
// each at most once: the sender's domain is looked at to verify the
// sender and again for its DKIM key and MAIL FROM domain. Records are
// shared (sharedIdentity): read only.
type identityReader struct {
	s    *Service
	acct string
	seen map[string]*identityRecord // nil: no such identity
}

func (s *Service) identities(acct string) *identityReader {
	return &identityReader{s: s, acct: acct, seen: map[string]*identityRecord{}}
}

// get returns identity name, or nil when it does not exist.
func (ir *identityReader) get(ctx context.Context, name string) (*identityRecord, error) {
	if r, ok := ir.seen[name]; ok {
		return r, nil
	}
	res, err := ir.s.st.Get(ctx, ir.acct, KindIdentity, name)
	if fault.Is(err, fault.NotFound) {
		ir.seen[name] = nil
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r, err := sharedIdentity(res)
	if err != nil {
		return nil, err
	}
	ir.seen[name] = r
	return r, nil
}

// verified finds the verified identity that lets addr send: the address
// itself, or its domain or a parent domain (SES: a verified domain covers
// its addresses and subdomains). It returns nil when none is.
func (ir *identityReader) verified(ctx context.Context, addr string) (*identityRecord, error) {
	at := strings.LastIndexByte(addr, '@')
	domain := strings.ToLower(addr[at+1:])
	names := []string{addr[:at] + "@" + domain}
	for d := domain; d != ""; d = parentDomain(d) {
		names = append(names, d)
	}
	for _, n := range names {
		r, err := ir.get(ctx, n)
		if err != nil {
			return nil, err
		}
		if r != nil && r.Status == StatusSuccess {
			return r, nil
		}
	}
	return nil, nil
}

// sent counts recipients of the last 24 hours per account, read from the
// store at most every 10 seconds and counted locally in between.
type sentCache struct {
	mu sync.Mutex
	m  map[string]*sentEntry
}

type sentEntry struct {
	n          int64
	at         time.Time
	refreshing bool // a count is being read: others use n meanwhile
}

var sent = &sentCache{m: map[string]*sentEntry{}}

func (s *Service) sentLast24h(ctx context.Context, acct string) (int64, error) {
	now := s.now()
	sent.mu.Lock()
	e := sent.m[acct]
	if e != nil && (now.Sub(e.at) < 10*time.Second || e.refreshing) {
		// Fresh, or another send is reading the count: the local one is
		// at most a few seconds behind (every send adds to it).
		n := e.n
		sent.mu.Unlock()
		return n, nil
	}
	if e != nil {
		e.refreshing = true
	}
	sent.mu.Unlock()
	n, err := s.st.CountRecipientsSince(ctx, acct, now.Add(-24*time.Hour))
	if err != nil {
		if e != nil {
			sent.mu.Lock()
			e.refreshing = false
			sent.mu.Unlock()
		}
		return 0, err
	}
	sent.mu.Lock()
	sent.m[acct] = &sentEntry{n: n, at: now}
	sent.mu.Unlock()
	return n, nil
}

func (s *Service) countSent(acct string, n int) {
	sent.mu.Lock()
	if e := sent.m[acct]; e != nil {
		e.n += int64(n)
	}
	sent.mu.Unlock()
}

// headerList returns the header fields of msg, unfolded, in order.
func headerList(msg []byte) []mailHeader {
	h, err := textproto.ReadHeader(bufioReader(msg))
	if err != nil {
		return nil
	}
	var out []mailHeader
	for f := h.Fields(); f.Next(); {
		out = append(out, mailHeader{Name: f.Key(), Value: f.Value()})
	}
	return out
}
