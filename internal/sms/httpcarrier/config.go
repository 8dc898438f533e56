package httpcarrier

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/tidings/tidings/internal/sms"
)

// Config describes one HTTP SMS gateway: how to ask it to send a message,
// how to read its answer, and how to read the delivery receipts and inbound
// messages it posts back to Tidings. It is read from a JSON file (Load).
//
//	{
//	  "name": "gateway",
//	  "request": {
//	    "method": "POST",
//	    "url": "https://gw.example.com/v1/sms",
//	    "headers": {"Authorization": "Bearer s3cr3t"},
//	    "encoding": "json",
//	    "body": {"from": "{{.Origination}}", "to": "{{.Destination}}",
//	             "text": "{{.Body}}", "reference": "{{.MessageID}}"}
//	  },
//	  "response": {
//	    "messageIdPath": "messages.0.id",
//	    "success": [200, 201, 202],
//	    "permanent": [400, 401, 403, 404, 422],
//	    "temporary": [408, 429, 500, 502, 503, 504]
//	  },
//	  "webhook": {
//	    "token": "a long random string",
//	    "receipt": {"messageIdPath": "id", "referencePath": "reference",
//	                "statusPath": "status", "descriptionPath": "error",
//	                "statuses": {"delivered": "DELIVERED", "sent": "SUCCESSFUL",
//	                             "failed": "UNREACHABLE", "expired": "TTL_EXPIRED"}},
//	    "inbound": {"idPath": "id", "fromPath": "from", "toPath": "to", "bodyPath": "text"}
//	  }
//	}
//
// Every string of request.url, request.headers and request.body is a Go
// text/template over Fields; body objects nest (JSON) and each value is
// escaped by the encoding, so a message body cannot break the request.
// Paths name a value of a JSON document with dots ("messages.0.id": key
// messages, first element, key id); for a form a path is the field name.
type Config struct {
	// Name appears in logs and in the webhook paths
	// (/v1/sms/webhooks/http/{name}/receipts and …/inbound).
	Name     string         `json:"name"`
	Request  RequestConfig  `json:"request"`
	Response ResponseConfig `json:"response"`
	Webhook  WebhookConfig  `json:"webhook"`
	Timeout  JSONDuration   `json:"timeout,omitempty"` // per request; default 30s
	// Channels the gateway carries: TEXT (default) and MEDIA.
	Channels []string `json:"channels,omitempty"`

	url     *template.Template
	headers map[string]*template.Template
	body    any // the body with its strings replaced by templates
}

// RequestConfig is the send request.
type RequestConfig struct {
	Method   string            `json:"method"`   // default POST
	URL      string            `json:"url"`      // template
	Headers  map[string]string `json:"headers"`  // values are templates
	Encoding string            `json:"encoding"` // json (default) or form
	// Body is a JSON object whose string values are templates; for the
	// form encoding its values must be strings. Empty for a GET whose URL
	// carries everything.
	Body map[string]any `json:"body"`
}

// ResponseConfig maps the gateway's answer.
type ResponseConfig struct {
	// MessageIDPath is where the gateway's id of the message is in its
	// JSON answer; receipts name the message by it. Empty: the gateway
	// gives none, and receipts must carry our MessageID (referencePath).
	MessageIDPath string `json:"messageIdPath"`
	// HTTP statuses: Success (default: every 2xx), Permanent (the message
	// is refused and not retried; default: every other 4xx but 408 and
	// 429), Temporary (retried; default: everything else).
	Success   []int `json:"success"`
	Permanent []int `json:"permanent"`
	Temporary []int `json:"temporary"`
}

// WebhookConfig reads what the gateway posts to Tidings.
type WebhookConfig struct {
	// Token authenticates the gateway: it must send it as the query
	// parameter token, or as "Authorization: Bearer <token>". Required
	// (at least 16 characters) when Receipt or Inbound is set.
	Token   string         `json:"token"`
	Receipt *ReceiptConfig `json:"receipt,omitempty"`
	Inbound *InboundConfig `json:"inbound,omitempty"`
}

// ReceiptConfig maps a delivery receipt callback.
type ReceiptConfig struct {
	MessageIDPath   string `json:"messageIdPath"` // the gateway's id (as in the send answer)
	ReferencePath   string `json:"referencePath"` // our MessageID, when the gateway echoes it
	StatusPath      string `json:"statusPath"`
	DescriptionPath string `json:"descriptionPath"`
	PricePath       string `json:"pricePath"` // USD, number or string
	// Statuses maps the gateway's status values (compared without case)
	// to the statuses Tidings reports: SUCCESSFUL, DELIVERED, INVALID,
	// INVALID_MESSAGE, UNREACHABLE, CARRIER_UNREACHABLE, BLOCKED,
	// CARRIER_BLOCKED, SPAM, UNKNOWN, TTL_EXPIRED. A value not listed is
	// logged and ignored.
	Statuses map[string]string `json:"statuses"`
}

// InboundConfig maps an inbound message callback.
type InboundConfig struct {
	IDPath   string `json:"idPath"`
	FromPath string `json:"fromPath"`
	ToPath   string `json:"toPath"`
	BodyPath string `json:"bodyPath"`
}

// JSONDuration is a duration written as a string ("30s").
type JSONDuration time.Duration

func (d *JSONDuration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration such as \"30s\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		return fmt.Errorf("want a positive duration such as \"30s\", got %q", s)
	}
	*d = JSONDuration(v)
	return nil
}

// Fields are what the request templates see.
type Fields struct {
	MessageID                            string
	Origination                          string // E.164 (with +), short code or sender ID
	Destination                          string // E.164, with +
	OriginationDigits, DestinationDigits string // without +
	Body                                 string
	Channel                              string // TEXT, MEDIA
	MessageType                          string // TRANSACTIONAL, PROMOTIONAL
	IsoCountryCode                       string
	Encoding                             string // GSM, UCS2
	Segments                             int
	MediaURLs                            []string
	// ValiditySeconds is how long the carrier may keep trying (0: unknown).
	ValiditySeconds int64
}

var settableStatuses = []sms.Status{sms.StatusSuccessful, sms.StatusDelivered, sms.StatusInvalid, sms.StatusInvalidMessage,
	sms.StatusUnreachable, sms.StatusCarrierUnreachable, sms.StatusBlocked, sms.StatusCarrierBlocked, sms.StatusSpam,
	sms.StatusUnknown, sms.StatusTTLExpired}

// Load reads and checks a gateway description from a JSON file.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(b)
}

// Parse reads and checks a gateway description. Errors name the field.
func Parse(b []byte) (*Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("not a gateway description: %w", err)
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) check() error {
	if c.Name == "" {
		c.Name = "http"
	}
	for _, r := range c.Name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("name %q: want lower-case letters, digits, '-' or '_'", c.Name)
		}
	}
	if c.Timeout == 0 {
		c.Timeout = JSONDuration(30 * time.Second)
	}
	rq := &c.Request
	if rq.Method == "" {
		rq.Method = http.MethodPost
	}
	rq.Method = strings.ToUpper(rq.Method)
	switch rq.Method {
	case http.MethodGet, http.MethodPost, http.MethodPut:
	default:
		return fmt.Errorf("request.method %q: want GET, POST or PUT", rq.Method)
	}
	if rq.URL == "" {
		return fmt.Errorf("request.url: required")
	}
	var err error
	if c.url, err = parseTemplate("request.url", rq.URL); err != nil {
		return err
	}
	probe, err := render(c.url, sampleFields)
	if err != nil {
		return fmt.Errorf("request.url: %w", err)
	}
	if u, err := url.Parse(probe); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("request.url %q: want an http:// or https:// URL", rq.URL)
	}
	c.headers = map[string]*template.Template{}
	for k, v := range rq.Headers {
		if c.headers[k], err = parseTemplate("request.headers."+k, v); err != nil {
			return err
		}
	}
	switch rq.Encoding {
	case "":
		rq.Encoding = "json"
	case "json", "form":
	default:
		return fmt.Errorf("request.encoding %q: want json or form", rq.Encoding)
	}
	if rq.Method == http.MethodGet && len(rq.Body) > 0 {
		return fmt.Errorf("request.body: a GET request has no body; put the fields in request.url")
	}
	if rq.Method != http.MethodGet && len(rq.Body) == 0 {
		return fmt.Errorf("request.body: required for %s", rq.Method)
	}
	if c.body, err = compileBody("request.body", rq.Body, rq.Encoding == "form"); err != nil {
		return err
	}
	rs := &c.Response
	for _, l := range []struct {
		name string
		v    []int
	}{{"success", rs.Success}, {"permanent", rs.Permanent}, {"temporary", rs.Temporary}} {
		for _, s := range l.v {
			if s < 100 || s > 599 {
				return fmt.Errorf("response.%s: %d is not an HTTP status", l.name, s)
			}
		}
	}
	for _, s := range rs.Success {
		if slices.Contains(rs.Permanent, s) || slices.Contains(rs.Temporary, s) {
			return fmt.Errorf("response: status %d is listed twice", s)
		}
	}
	for _, s := range rs.Permanent {
		if slices.Contains(rs.Temporary, s) {
			return fmt.Errorf("response: status %d is listed twice", s)
		}
	}
	w := &c.Webhook
	if (w.Receipt != nil || w.Inbound != nil) && len(w.Token) < 16 {
		return fmt.Errorf("webhook.token: required, at least 16 characters, when webhook.receipt or webhook.inbound is set")
	}
	if r := w.Receipt; r != nil {
		if r.MessageIDPath == "" && r.ReferencePath == "" {
			return fmt.Errorf("webhook.receipt: set messageIdPath or referencePath (how a receipt names the message)")
		}
		if r.MessageIDPath != "" && rs.MessageIDPath == "" {
			return fmt.Errorf("webhook.receipt.messageIdPath: set response.messageIdPath too (where the gateway's id is in its answer)")
		}
		if r.StatusPath == "" {
			return fmt.Errorf("webhook.receipt.statusPath: required")
		}
		if len(r.Statuses) == 0 {
			return fmt.Errorf("webhook.receipt.statuses: required (the gateway's status values and what Tidings reports for them)")
		}
		norm := map[string]string{}
		for k, v := range r.Statuses {
			if !slices.Contains(settableStatuses, sms.Status(v)) {
				return fmt.Errorf("webhook.receipt.statuses.%s: %q is not one of %v", k, v, settableStatuses)
			}
			norm[strings.ToLower(k)] = v
		}
		r.Statuses = norm
	}
	if in := w.Inbound; in != nil && (in.FromPath == "" || in.ToPath == "" || in.BodyPath == "") {
		return fmt.Errorf("webhook.inbound: fromPath, toPath and bodyPath are required")
	}
	for _, ch := range c.Channels {
		if ch != string(sms.ChannelText) && ch != string(sms.ChannelMedia) {
			return fmt.Errorf("channels: %q: want TEXT or MEDIA", ch)
		}
	}
	if len(c.Channels) == 0 {
		c.Channels = []string{string(sms.ChannelText)}
	}
	// A dry run of the body with sample fields catches template errors
	// (a misspelt field) at start rather than at the first message.
	if _, _, err := c.encodeBody(sampleFields); err != nil {
		return fmt.Errorf("request.body: %w", err)
	}
	return nil
}

var sampleFields = Fields{MessageID: "0123456789abcdef", Origination: "+12065550100", Destination: "+12065550101",
	OriginationDigits: "12065550100", DestinationDigits: "12065550101", Body: "hello", Channel: "TEXT",
	MessageType: "TRANSACTIONAL", IsoCountryCode: "US", Encoding: "GSM", Segments: 1}

func parseTemplate(name, s string) (*template.Template, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return t, nil
}

func render(t *template.Template, f Fields) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, f); err != nil {
		return "", err
	}
	return b.String(), nil
}

// compileBody replaces every string of v by its template.
func compileBody(path string, v any, flat bool) (any, error) {
	switch v := v.(type) {
	case string:
		return parseTemplate(path, v)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			if _, isStr := e.(string); flat && !isStr {
				return nil, fmt.Errorf("%s.%s: a form field must be a string", path, k)
			}
			c, err := compileBody(path+"."+k, e, flat)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			c, err := compileBody(fmt.Sprintf("%s.%d", path, i), e, flat)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	}
	return v, nil // numbers, booleans, null: as written
}

func renderBody(v any, f Fields) (any, error) {
	switch v := v.(type) {
	case *template.Template:
		return render(v, f)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			r, err := renderBody(e, f)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			r, err := renderBody(e, f)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}

// encodeBody renders the request body and its content type.
func (c *Config) encodeBody(f Fields) ([]byte, string, error) {
	if c.body == nil || len(c.Request.Body) == 0 {
		return nil, "", nil
	}
	v, err := renderBody(c.body, f)
	if err != nil {
		return nil, "", err
	}
	if c.Request.Encoding == "form" {
		form := url.Values{}
		for k, e := range v.(map[string]any) {
			form.Set(k, e.(string))
		}
		return []byte(form.Encode()), "application/x-www-form-urlencoded", nil
	}
	b, err := json.Marshal(v)
	return b, "application/json", err
}

// class is how an HTTP status of the send answer is taken.
type class int

const (
	classSuccess class = iota
	classPermanent
	classTemporary
)

func (c *Config) classify(status int) class {
	rs := &c.Response
	switch {
	case slices.Contains(rs.Success, status):
		return classSuccess
	case slices.Contains(rs.Permanent, status):
		return classPermanent
	case slices.Contains(rs.Temporary, status):
		return classTemporary
	case len(rs.Success) == 0 && status >= 200 && status < 300:
		return classSuccess
	case len(rs.Permanent) == 0 && status >= 400 && status < 500 && status != 408 && status != 429:
		return classPermanent
	}
	return classTemporary
}

// lookup finds the value at a dotted path of a decoded JSON document.
func lookup(doc any, path string) (any, bool) {
	if path == "" {
		return nil, false
	}
	cur := doc
	for _, key := range strings.Split(path, ".") {
		switch v := cur.(type) {
		case map[string]any:
			e, ok := v[key]
			if !ok {
				return nil, false
			}
			cur = e
		case []any:
			var i int
			if _, err := fmt.Sscanf(key, "%d", &i); err != nil || i < 0 || i >= len(v) {
				return nil, false
			}
			cur = v[i]
		default:
			return nil, false
		}
	}
	return cur, cur != nil
}

// lookupString is lookup as a string: numbers are written without
// exponent, so that a numeric id matches the string of the send answer.
func lookupString(doc any, path string) string {
	v, ok := lookup(doc, path)
	if !ok {
		return ""
	}
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case float64:
		return fmt.Sprintf("%.0f", v)
	case bool:
		return fmt.Sprint(v)
	}
	return ""
}
