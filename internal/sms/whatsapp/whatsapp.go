// Package whatsapp carries messages over the WhatsApp Business Platform's
// Cloud API: an sms.Provider for the business numbers of a Config.
//
// A message goes out as POST {baseUrl}/{apiVersion}/{phone-number-id}/messages
// with a bearer token and messaging_product "whatsapp": a text message, a
// template message when the send's Context names one, or a media message
// (image, video, audio or document by the URL's extension) with the body
// as its caption. Meta reports on it, and forwards what people write to
// the number, through the webhook (Handler): a POST signed with the app
// secret (X-Hub-Signature-256), after a GET hub.challenge handshake.
// Status updates sent, delivered, read and failed become the receipts
// SUCCESSFUL, DELIVERED, DELIVERED and a failure by error code; inbound
// messages take the two-way path of the SMS service (keywords such as
// STOP, two-way channels).
package whatsapp

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/sms"
)

// WebhookPath is where Meta's webhook is mounted on Tidings' HTTP address.
const WebhookPath = "/v1/sms/webhooks/whatsapp"

// Context keys of a send that make it a template message (a Context has
// at most 5 keys, so the parameters share one):
//
//	whatsapp:template    the template's name
//	whatsapp:language    its language code (default en_US)
//	whatsapp:parameters  a JSON array of the body's parameters, ["Ana", "424242"]
const (
	ContextTemplate   = "whatsapp:template"
	ContextLanguage   = "whatsapp:language"
	ContextParameters = "whatsapp:parameters"
)

const maxBody = 1 << 20

// UnknownStatusRetry is how long after its timestamp a status naming a
// wamid Tidings does not know is answered 503 (Meta retries it) rather
// than dropped.
const UnknownStatusRetry = 2 * time.Minute

// Provider is an sms.Provider over the Cloud API.
type Provider struct {
	cfg    *Config
	client *http.Client
	log    *slog.Logger
	byNum  map[string]Number // E.164 → number
	byID   map[string]Number // Meta's phone number id → number

	mu     sync.RWMutex // guards sink and closed; held (read) around sink calls
	sink   sms.Sink
	closed bool
}

var _ sms.Provider = (*Provider)(nil)

// New returns a provider for cfg; client may be nil.
func New(cfg *Config, client *http.Client, log *slog.Logger) *Provider {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	p := &Provider{cfg: cfg, client: client, log: log.With("carrier", "whatsapp"), byNum: map[string]Number{}, byID: map[string]Number{}}
	for _, n := range cfg.Numbers {
		p.byNum[n.PhoneNumber], p.byID[n.PhoneNumberID] = n, n
	}
	return p
}

func (p *Provider) Start(_ context.Context, sink sms.Sink) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("whatsapp: closed")
	}
	p.sink = sink
	p.log.Info("WhatsApp Cloud API ready", "base", p.cfg.BaseURL, "version", p.cfg.APIVersion, "numbers", len(p.cfg.Numbers))
	return nil
}

// Close stops the webhook (it answers 503: Meta retries) and Submit.
func (p *Provider) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	return nil
}

// Cloud API message objects.
type (
	message struct {
		MessagingProduct string    `json:"messaging_product"`
		RecipientType    string    `json:"recipient_type"`
		To               string    `json:"to"`
		Type             string    `json:"type"`
		Text             *text     `json:"text,omitempty"`
		Template         *template `json:"template,omitempty"`
		Image            *media    `json:"image,omitempty"`
		Video            *media    `json:"video,omitempty"`
		Audio            *media    `json:"audio,omitempty"`
		Document         *media    `json:"document,omitempty"`
	}
	text struct {
		PreviewURL bool   `json:"preview_url"`
		Body       string `json:"body"`
	}
	template struct {
		Name       string      `json:"name"`
		Language   language    `json:"language"`
		Components []component `json:"components,omitempty"`
	}
	language struct {
		Code string `json:"code"`
	}
	component struct {
		Type       string      `json:"type"`
		Parameters []parameter `json:"parameters"`
	}
	parameter struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	media struct {
		Link    string `json:"link"`
		Caption string `json:"caption,omitempty"`
	}
)

// build makes the Cloud API message of an outbound message.
func build(m *sms.Outbound) (*message, error) {
	msg := &message{MessagingProduct: "whatsapp", RecipientType: "individual", To: strings.TrimPrefix(m.Destination, "+")}
	if name := m.Context[ContextTemplate]; name != "" {
		t := &template{Name: name, Language: language{Code: m.Context[ContextLanguage]}}
		if t.Language.Code == "" {
			t.Language.Code = "en_US"
		}
		if ps := m.Context[ContextParameters]; ps != "" {
			var params []string
			if err := json.Unmarshal([]byte(ps), &params); err != nil {
				return nil, fmt.Errorf("%w: Context %s is not a JSON array of strings: %v", sms.ErrRejected, ContextParameters, err)
			}
			c := component{Type: "body", Parameters: []parameter{}}
			for _, v := range params {
				c.Parameters = append(c.Parameters, parameter{Type: "text", Text: v})
			}
			t.Components = []component{c}
		}
		msg.Type, msg.Template = "template", t
		return msg, nil
	}
	switch m.Channel {
	case sms.ChannelText, "":
		msg.Type, msg.Text = "text", &text{Body: m.Body, PreviewURL: strings.Contains(m.Body, "https://")}
	case sms.ChannelMedia:
		if len(m.MediaURLs) == 0 {
			msg.Type, msg.Text = "text", &text{Body: m.Body}
			break
		}
		if len(m.MediaURLs) > 1 {
			return nil, fmt.Errorf("%w: a WhatsApp message carries one media file, not %d", sms.ErrRejected, len(m.MediaURLs))
		}
		u, err := url.Parse(m.MediaURLs[0])
		if err != nil || u.Scheme != "https" {
			return nil, fmt.Errorf("%w: WhatsApp fetches media from an https:// link, not %q", sms.ErrRejected, m.MediaURLs[0])
		}
		md := &media{Link: u.String(), Caption: m.Body}
		switch strings.ToLower(path.Ext(u.Path)) {
		case ".jpg", ".jpeg", ".png", ".webp":
			msg.Type, msg.Image = "image", md
		case ".mp4", ".3gp":
			msg.Type, msg.Video = "video", md
		case ".mp3", ".ogg", ".aac", ".amr", ".m4a", ".opus":
			md.Caption = "" // audio has no caption
			msg.Type, msg.Audio = "audio", md
		default:
			msg.Type, msg.Document = "document", md
		}
	default:
		return nil, fmt.Errorf("%w: WhatsApp carries text and media messages, not %s", sms.ErrRejected, m.Channel)
	}
	return msg, nil
}

// apiError is the Graph API's error answer.
type apiError struct {
	Error struct {
		Message   string `json:"message"`
		Type      string `json:"type"`
		Code      int    `json:"code"`
		Subcode   int    `json:"error_subcode"`
		FBTraceID string `json:"fbtrace_id"`
	} `json:"error"`
}

// retryableCodes are Graph API error codes worth retrying: throttling
// (4, 80007, 130429, 131048, 131056) and temporary errors (1, 2, 131000, 131016).
var retryableCodes = map[int]bool{1: true, 2: true, 4: true, 80007: true, 130429: true, 131000: true, 131016: true, 131048: true, 131056: true}

// Submit sends a message and returns its WhatsApp message id (wamid.…).
func (p *Provider) Submit(ctx context.Context, m *sms.Outbound) (string, error) {
	p.mu.RLock()
	closed := p.closed || p.sink == nil
	p.mu.RUnlock()
	if closed {
		return "", errors.New("whatsapp: not running")
	}
	num, ok := p.byNum[m.Origination]
	if !ok {
		return "", fmt.Errorf("%w: %s is not a WhatsApp business number of the configuration", sms.ErrRejected, m.Origination)
	}
	msg, err := build(m)
	if err != nil {
		return "", err
	}
	body, _ := json.Marshal(msg)
	u := p.cfg.BaseURL + "/" + p.cfg.APIVersion + "/" + num.PhoneNumberID + "/messages"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+p.cfg.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := p.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("whatsapp: %w", err)
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return "", fmt.Errorf("whatsapp: reading the answer: %w", err)
	}
	if res.StatusCode/100 != 2 {
		var e apiError
		_ = json.Unmarshal(answer, &e)
		desc := fmt.Sprintf("WhatsApp answered %s: (#%d) %s", res.Status, e.Error.Code, e.Error.Message)
		// An expired token (401) and throttling are for the operator or
		// for time to fix: retried. Other 4xx refuse this message.
		if res.StatusCode >= 500 || res.StatusCode == 401 || res.StatusCode == 429 || retryableCodes[e.Error.Code] {
			return "", errors.New("whatsapp: " + desc)
		}
		return "", fmt.Errorf("%w: %s", sms.ErrRejected, desc)
	}
	var ok2 struct {
		Messages []struct {
			ID string `json:"id"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(answer, &ok2); err != nil || len(ok2.Messages) == 0 || ok2.Messages[0].ID == "" {
		// Taken, but without an id its statuses cannot be matched;
		// retrying would send it twice.
		p.log.Error("WhatsApp accepted a message without a message id", "message", m.MessageID, "answer", string(answer))
		return "wa-" + m.MessageID, nil
	}
	return ok2.Messages[0].ID, nil
}

// Webhook payload (the "messages" field of a WhatsApp Business Account).
type (
	notification struct {
		Object string  `json:"object"`
		Entry  []entry `json:"entry"`
	}
	entry struct {
		ID      string   `json:"id"`
		Changes []change `json:"changes"`
	}
	change struct {
		Field string `json:"field"`
		Value value  `json:"value"`
	}
	value struct {
		MessagingProduct string `json:"messaging_product"`
		Metadata         struct {
			DisplayPhoneNumber string `json:"display_phone_number"`
			PhoneNumberID      string `json:"phone_number_id"`
		} `json:"metadata"`
		Messages []inbound `json:"messages"`
		Statuses []status  `json:"statuses"`
	}
	inbound struct {
		From      string `json:"from"`
		ID        string `json:"id"`
		Timestamp string `json:"timestamp"`
		Type      string `json:"type"`
		Text      *struct {
			Body string `json:"body"`
		} `json:"text"`
		Button *struct {
			Text string `json:"text"`
		} `json:"button"`
		Interactive *struct {
			ButtonReply *struct {
				Title string `json:"title"`
			} `json:"button_reply"`
			ListReply *struct {
				Title string `json:"title"`
			} `json:"list_reply"`
		} `json:"interactive"`
	}
	status struct {
		ID          string      `json:"id"`
		Status      string      `json:"status"`
		Timestamp   string      `json:"timestamp"`
		RecipientID string      `json:"recipient_id"`
		Errors      []statusErr `json:"errors"`
	}
	statusErr struct {
		Code  int    `json:"code"`
		Title string `json:"title"`
	}
)

func unix(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return time.Now()
	}
	return time.Unix(n, 0).UTC()
}

// receipt maps a status update; ok is false for one Tidings does not
// report (deleted, warning).
func receipt(st status) (sms.Receipt, bool) {
	r := sms.Receipt{ProviderID: st.ID, At: unix(st.Timestamp)}
	switch st.Status {
	case "sent":
		r.Status, r.Description = sms.StatusSuccessful, "WhatsApp status sent"
	case "delivered":
		r.Status, r.Description = sms.StatusDelivered, "WhatsApp status delivered"
	case "read":
		// Read implies delivered (and may come first): AWS has no read
		// event for text messages.
		r.Status, r.Description = sms.StatusDelivered, "WhatsApp status read"
	case "failed":
		r.Status, r.Description = sms.StatusUnreachable, "WhatsApp status failed"
		if len(st.Errors) > 0 {
			e := st.Errors[0]
			r.Description = fmt.Sprintf("WhatsApp status failed: (#%d) %s", e.Code, e.Title)
			switch {
			case e.Code == 131021 || e.Code == 131030: // recipient not valid / not on the allowed list
				r.Status = sms.StatusInvalid
			case e.Code == 131049 || e.Code == 131050: // not delivered for engagement / user stopped marketing
				r.Status = sms.StatusBlocked
			case e.Code == 131047 || e.Code == 131051 || e.Code == 131052 || e.Code == 131053 || e.Code/1000 == 132:
				// outside the 24-hour window, unsupported type, media, template errors
				r.Status = sms.StatusInvalidMessage
			case e.Code == 131026: // undeliverable
				r.Status = sms.StatusUnreachable
			case e.Code == 368 || e.Code == 131031: // policy: account restricted or locked
				r.Status = sms.StatusCarrierBlocked
			}
		}
	default:
		return r, false
	}
	return r, true
}

func inboundBody(m inbound) string {
	switch {
	case m.Text != nil:
		return m.Text.Body
	case m.Button != nil:
		return m.Button.Text
	case m.Interactive != nil && m.Interactive.ButtonReply != nil:
		return m.Interactive.ButtonReply.Title
	case m.Interactive != nil && m.Interactive.ListReply != nil:
		return m.Interactive.ListReply.Title
	}
	return ""
}

// Handler serves Meta's webhook at WebhookPath: the GET verification
// handshake and the signed POST notifications.
func (p *Provider) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+WebhookPath, p.verify)
	mux.HandleFunc("POST "+WebhookPath, p.notify)
	return mux
}

// verify answers the subscription handshake: hub.challenge back when
// hub.verify_token is ours.
func (p *Provider) verify(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("hub.mode") != "subscribe" || subtle.ConstantTimeCompare([]byte(q.Get("hub.verify_token")), []byte(p.cfg.VerifyToken)) != 1 {
		http.Error(w, "verification failed", http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, q.Get("hub.challenge"))
}

// Sign is the X-Hub-Signature-256 of body under secret.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func (p *Provider) notify(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	if !hmac.Equal([]byte(r.Header.Get("X-Hub-Signature-256")), []byte(Sign(p.cfg.AppSecret, body))) {
		p.log.Warn("WhatsApp webhook with a bad or missing X-Hub-Signature-256 refused", "remote", r.RemoteAddr)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var n notification
	if err := json.Unmarshal(body, &n); err != nil {
		http.Error(w, "not a webhook notification", http.StatusBadRequest)
		return
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed || p.sink == nil {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	// Meta redelivers the whole notification on a non-200: each receipt
	// and inbound message is idempotent in the sink.
	for _, e := range n.Entry {
		for _, c := range e.Changes {
			if c.Field != "messages" {
				continue
			}
			if err := p.change(r.Context(), c.Value); err != nil {
				p.log.Error("WhatsApp notification not recorded", "err", err)
				http.Error(w, "try again later", http.StatusServiceUnavailable)
				return
			}
		}
	}
	w.WriteHeader(http.StatusOK)
}

func (p *Provider) change(ctx context.Context, v value) error {
	for _, st := range v.Statuses {
		rc, ok := receipt(st)
		if !ok {
			continue
		}
		err := p.sink.Receipt(ctx, rc)
		if fault.Is(err, fault.NotFound) {
			// A status may cross the answer to the send (its wamid not
			// recorded yet): a recent one is retried (Meta redelivers on
			// a non-200), an old one is a message sent by other means.
			if time.Since(rc.At) < UnknownStatusRetry {
				return err
			}
			p.log.Warn("WhatsApp status for a message this database does not know", "wamid", st.ID, "status", st.Status)
			continue
		}
		if err != nil {
			return err
		}
	}
	if len(v.Messages) == 0 {
		return nil
	}
	num, ok := p.byID[v.Metadata.PhoneNumberID]
	if !ok {
		p.log.Warn("WhatsApp message to a phone number id not in the configuration dropped", "phone_number_id", v.Metadata.PhoneNumberID)
		return nil
	}
	for _, m := range v.Messages {
		in := sms.Inbound{ID: "wa-" + m.ID, Origination: "+" + strings.TrimPrefix(m.From, "+"), Destination: num.PhoneNumber,
			Body: inboundBody(m), At: unix(m.Timestamp)}
		if err := p.sink.Inbound(ctx, in); err != nil {
			return err
		}
	}
	return nil
}
