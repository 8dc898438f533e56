// Package httpcarrier connects the SMS service to an HTTP SMS gateway
// described by a Config: a request template for sending, a mapping of the
// gateway's answer (its message id, which HTTP statuses mean accepted,
// refused or try again), and a webhook on Tidings' HTTP address where the
// gateway posts delivery receipts and the messages people send to our
// numbers. It is an sms.Provider: receipts become the same event records
// as SMPP receipts, inbound messages take the two-way path (keywords,
// STOP, two-way channels).
package httpcarrier

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/sms"
)

// WebhookPrefix is where the webhooks of HTTP gateways are mounted on
// Tidings' HTTP address: {WebhookPrefix}{name}/receipts and …/inbound.
const WebhookPrefix = "/v1/sms/webhooks/http/"

// maxAnswer bounds what is read of an answer or a callback.
const maxAnswer = 1 << 20

// Carrier is an sms.Provider over an HTTP gateway.
type Carrier struct {
	cfg    *Config
	client *http.Client
	log    *slog.Logger

	mu     sync.RWMutex // guards sink and closed; held (read) around sink calls
	sink   sms.Sink
	closed bool
}

var _ sms.Provider = (*Carrier)(nil)

// New returns a carrier for cfg (from Load or Parse). client may be nil
// (http.DefaultClient's transport with cfg's timeout).
func New(cfg *Config, client *http.Client, log *slog.Logger) *Carrier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if client == nil {
		client = &http.Client{}
	}
	c := *client
	c.Timeout = time.Duration(cfg.Timeout)
	return &Carrier{cfg: cfg, client: &c, log: log.With("carrier", "http", "gateway", cfg.Name)}
}

// WebhookPath is where this gateway's webhook is mounted.
func (c *Carrier) WebhookPath() string { return WebhookPrefix + c.cfg.Name + "/" }

// Carries reports whether the gateway carries a channel.
func (c *Carrier) Carries(ch sms.Channel) bool { return slices.Contains(c.cfg.Channels, string(ch)) }

func (c *Carrier) Start(_ context.Context, sink sms.Sink) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("httpcarrier: closed")
	}
	c.sink = sink
	c.log.Info("HTTP SMS gateway ready", "url", c.cfg.Request.URL, "webhook", c.WebhookPath())
	return nil
}

// Close stops the webhook: callbacks answer 503 (the gateway retries them
// later) and Submit fails. No sink call starts after it returns.
func (c *Carrier) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return nil
}

func fields(m *sms.Outbound) Fields {
	f := Fields{MessageID: m.MessageID, Origination: m.Origination, Destination: m.Destination,
		OriginationDigits: strings.TrimPrefix(m.Origination, "+"), DestinationDigits: strings.TrimPrefix(m.Destination, "+"),
		Body: m.Body, Channel: string(m.Channel), MessageType: m.MessageType, IsoCountryCode: m.IsoCountryCode,
		Encoding: string(m.Encoding), Segments: m.Segments, MediaURLs: m.MediaURLs}
	if !m.ExpiresAt.IsZero() {
		if d := time.Until(m.ExpiresAt); d > 0 {
			f.ValiditySeconds = int64(d / time.Second)
		}
	}
	return f
}

// Submit sends one message to the gateway and returns its id of it (our
// MessageID when the gateway gives none). A status the configuration
// calls permanent wraps sms.ErrRejected.
func (c *Carrier) Submit(ctx context.Context, m *sms.Outbound) (string, error) {
	c.mu.RLock()
	closed := c.closed || c.sink == nil
	c.mu.RUnlock()
	if closed {
		return "", errors.New("httpcarrier: not running")
	}
	if !c.Carries(m.Channel) {
		return "", fmt.Errorf("%w: gateway %s does not carry %s messages", sms.ErrRejected, c.cfg.Name, m.Channel)
	}
	f := fields(m)
	u, err := render(c.cfg.url, f)
	if err != nil {
		return "", fmt.Errorf("%w: request.url: %w", sms.ErrRejected, err)
	}
	body, ctype, err := c.cfg.encodeBody(f)
	if err != nil {
		return "", fmt.Errorf("%w: request.body: %w", sms.ErrRejected, err)
	}
	req, err := http.NewRequestWithContext(ctx, c.cfg.Request.Method, u, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("%w: request: %w", sms.ErrRejected, err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "tidings")
	for k, t := range c.cfg.headers {
		v, err := render(t, f)
		if err != nil {
			return "", fmt.Errorf("%w: request.headers.%s: %w", sms.ErrRejected, k, err)
		}
		req.Header.Set(k, v)
	}
	res, err := c.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("httpcarrier %s: %w", c.cfg.Name, err)
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return "", fmt.Errorf("httpcarrier %s: reading the answer: %w", c.cfg.Name, err)
	}
	switch c.cfg.classify(res.StatusCode) {
	case classPermanent:
		return "", fmt.Errorf("%w: gateway %s answered %s: %s", sms.ErrRejected, c.cfg.Name, res.Status, snippet(answer))
	case classTemporary:
		return "", fmt.Errorf("httpcarrier %s: gateway answered %s: %s", c.cfg.Name, res.Status, snippet(answer))
	}
	if c.cfg.Response.MessageIDPath == "" {
		return m.MessageID, nil
	}
	doc, err := decodeJSON(answer)
	if err != nil {
		// Accepted, but we cannot tell which id its receipts will name:
		// retrying would send it twice, so it is taken as sent.
		c.log.Error("HTTP gateway accepted a message with an answer that is not JSON", "message", m.MessageID, "answer", snippet(answer))
		return m.MessageID, nil
	}
	id := lookupString(doc, c.cfg.Response.MessageIDPath)
	if id == "" {
		c.log.Error("HTTP gateway accepted a message without an id at response.messageIdPath", "message", m.MessageID,
			"path", c.cfg.Response.MessageIDPath, "answer", snippet(answer))
		return m.MessageID, nil
	}
	return id, nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// Handler serves the gateway's callbacks:
//
//	GET|POST {WebhookPath}receipts   a delivery receipt
//	GET|POST {WebhookPath}inbound    a message a person sent to one of our numbers
//
// with the parameters in the query (GET) or a JSON or form body (POST).
// 200 means taken (or ignored for good); 503 and 404 (a receipt for a
// message not recorded yet) try again later; other 4xx a callback that
// retrying cannot fix.
func (c *Carrier) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, m := range []string{"GET ", "POST "} {
		mux.HandleFunc(m+c.WebhookPath()+"receipts", c.serveReceipt)
		mux.HandleFunc(m+c.WebhookPath()+"inbound", c.serveInbound)
	}
	return mux
}

// authorized checks the webhook token (constant time).
func (c *Carrier) authorized(r *http.Request) bool {
	tok := r.URL.Query().Get("token")
	if h := r.Header.Get("Authorization"); tok == "" && strings.HasPrefix(h, "Bearer ") {
		tok = strings.TrimPrefix(h, "Bearer ")
	}
	return c.cfg.Webhook.Token != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(c.cfg.Webhook.Token)) == 1
}

// params reads a callback: the query of a GET, the JSON or form body of a
// POST.
func params(r *http.Request) (any, error) {
	if r.Method == http.MethodGet {
		return flatten(r.URL.Query()), nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxAnswer))
	if err != nil {
		return nil, err
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/x-www-form-urlencoded" {
		r.Body = io.NopCloser(bytes.NewReader(b))
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
		return flatten(r.PostForm), nil
	}
	return decodeJSON(b)
}

func flatten(v map[string][]string) map[string]any {
	out := make(map[string]any, len(v))
	for k, vs := range v {
		if len(vs) > 0 {
			out[k] = vs[0]
		}
	}
	return out
}

func (c *Carrier) sinkFor() (sms.Sink, func(), bool) {
	c.mu.RLock()
	if c.closed || c.sink == nil {
		c.mu.RUnlock()
		return nil, nil, false
	}
	return c.sink, c.mu.RUnlock, true
}

func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func ok(w http.ResponseWriter, note string) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"result": note})
}

// callback checks a webhook call of the gateway — the description maps
// this kind of call (mapped; kind names it: "receipt", "inbound"), the
// token is right — and returns its parameters; otherwise it answers.
func (c *Carrier) callback(w http.ResponseWriter, r *http.Request, mapped bool, kind string) (doc any, ok bool) {
	if !mapped {
		httpError(w, http.StatusNotFound, "this gateway has no "+kind+" mapping (webhook."+kind+")")
		return nil, false
	}
	if !c.authorized(r) {
		httpError(w, http.StatusUnauthorized, "missing or wrong webhook token")
		return nil, false
	}
	doc, err := params(r)
	if err != nil {
		httpError(w, http.StatusBadRequest, "unreadable callback: "+err.Error())
		return nil, false
	}
	return doc, true
}

func (c *Carrier) serveReceipt(w http.ResponseWriter, r *http.Request) {
	rc := c.cfg.Webhook.Receipt
	doc, valid := c.callback(w, r, rc != nil, "receipt")
	if !valid {
		return
	}
	rec := sms.Receipt{ProviderID: lookupString(doc, rc.MessageIDPath), MessageID: lookupString(doc, rc.ReferencePath),
		Description: lookupString(doc, rc.DescriptionPath), At: time.Now()}
	if rec.ProviderID == "" && rec.MessageID == "" {
		httpError(w, http.StatusBadRequest, "the receipt names no message (webhook.receipt.messageIdPath / referencePath)")
		return
	}
	raw := lookupString(doc, rc.StatusPath)
	st, known := rc.Statuses[strings.ToLower(raw)]
	if !known {
		c.log.Warn("HTTP gateway receipt with a status not in webhook.receipt.statuses ignored", "status", raw,
			"provider_id", rec.ProviderID, "message", rec.MessageID)
		ok(w, "ignored")
		return
	}
	rec.Status = sms.Status(st)
	if rec.Description == "" {
		rec.Description = "gateway status " + raw
	}
	if p := lookupString(doc, rc.PricePath); p != "" {
		if v, err := strconv.ParseFloat(p, 64); err == nil && v >= 0 {
			rec.PriceUSD = v
		}
	}
	sink, release, running := c.sinkFor()
	if !running {
		httpError(w, http.StatusServiceUnavailable, "shutting down")
		return
	}
	defer release()
	err := sink.Receipt(r.Context(), rec)
	switch {
	case fault.Is(err, fault.NotFound):
		// A gateway may call back before its answer to the send is
		// recorded: 404 asks it to try again (gateways retry a non-2xx
		// callback for a while), and a message that never existed stops
		// at the gateway's own retry limit.
		c.log.Warn("HTTP gateway receipt for a message this database does not know (yet)", "provider_id", rec.ProviderID, "message", rec.MessageID)
		httpError(w, http.StatusNotFound, "unknown message")
	case err != nil:
		c.log.Error("HTTP gateway receipt not recorded", "provider_id", rec.ProviderID, "err", err)
		httpError(w, http.StatusServiceUnavailable, "try again later")
	default:
		ok(w, "recorded")
	}
}

func (c *Carrier) serveInbound(w http.ResponseWriter, r *http.Request) {
	ic := c.cfg.Webhook.Inbound
	doc, valid := c.callback(w, r, ic != nil, "inbound")
	if !valid {
		return
	}
	in := sms.Inbound{ID: lookupString(doc, ic.IDPath), Origination: E164(lookupString(doc, ic.FromPath)),
		Destination: E164(lookupString(doc, ic.ToPath)), Body: lookupString(doc, ic.BodyPath), At: time.Now()}
	if in.Origination == "" || in.Destination == "" {
		httpError(w, http.StatusBadRequest, "the message has no sender or no recipient (webhook.inbound.fromPath / toPath)")
		return
	}
	if in.ID == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		in.ID = "http-" + hex.EncodeToString(b)
	} else {
		in.ID = c.cfg.Name + "-" + in.ID
	}
	sink, release, running := c.sinkFor()
	if !running {
		httpError(w, http.StatusServiceUnavailable, "shutting down")
		return
	}
	defer release()
	if err := sink.Inbound(r.Context(), in); err != nil {
		c.log.Error("HTTP gateway inbound message not recorded", "from", in.Origination, "to", in.Destination, "err", err)
		httpError(w, http.StatusServiceUnavailable, "try again later")
		return
	}
	ok(w, "recorded")
}

// E164 writes a number of digits (with or without '+', spaces or
// dashes) as E.164; anything else (a short code, a name) is kept.
func E164(s string) string {
	s = strings.TrimSpace(s)
	d := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '(' || r == ')' {
			return -1
		}
		return r
	}, s)
	digits := strings.TrimPrefix(d, "+")
	if digits == "" {
		return s
	}
	for _, r := range digits {
		if r < '0' || r > '9' {
			return s
		}
	}
	if strings.HasPrefix(d, "+") || len(digits) >= 10 {
		return "+" + digits
	}
	return digits
}
