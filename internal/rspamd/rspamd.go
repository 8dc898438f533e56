// Package rspamd is a client of rspamd's HTTP protocol (the normal worker's
// POST /checkv2, https://rspamd.com/doc/developers/protocol.html) and the
// RSPAMD Mail Manager add-on built on it: the result fields that traffic
// policies and rule conditions can name in an Analysis.
package rspamd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// AddonName is the add-on name of CreateAddonSubscription that runs rspamd.
// AWS's own add-ons (TRENDMICRO_VSAPI, SPAMHAUS_DBL, ...) are third-party
// services Tidings cannot reach; RSPAMD is the one Tidings runs.
const AddonName = "RSPAMD"

// MaxResponseBytes bounds how much of rspamd's answer is read. An answer
// lists each symbol that fired with its options: tens of kilobytes at most.
const MaxResponseBytes = 4 << 20

// Client talks to one rspamd normal worker. It is safe for concurrent use.
type Client struct {
	url     string
	timeout time.Duration
	http    *http.Client
}

// New returns a client of the rspamd worker at base (such as
// http://127.0.0.1:11333); each check is abandoned after timeout.
func New(base string, timeout time.Duration) *Client {
	return &Client{
		url:     strings.TrimSuffix(base, "/") + "/checkv2",
		timeout: timeout,
		// Loopback or a private network: no proxy from the environment.
		http: &http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     time.Minute,
		}},
	}
}

// Meta is what the SMTP transaction told about the message; rspamd reads
// it from request headers (protocol.html, "HTTP headers"). Zero fields are
// not sent, and rspamd then works from the message alone.
type Meta struct {
	IP       netip.Addr // the SMTP client's address
	Helo     string
	From     string // MAIL FROM; "" is the null sender
	NullFrom bool   // send From: <> for the null sender
	Rcpt     []string
	Hostname string // PTR name of IP, when known
	User     string // SMTP AUTH identity, when authenticated
	QueueID  string
}

// Result is rspamd's answer (the JSON of /checkv2).
type Result struct {
	Action        string            `json:"action"`
	Score         float64           `json:"score"`
	RequiredScore float64           `json:"required_score"`
	IsSkipped     bool              `json:"is_skipped"`
	Symbols       map[string]Symbol `json:"symbols"`
	MessageID     string            `json:"message-id"`
	// Messages holds texts rspamd suggests, such as smtp_message.
	Messages map[string]any `json:"messages"`
}

// Symbol is one rule that fired.
type Symbol struct {
	Name        string   `json:"name"`
	Score       float64  `json:"score"`
	Description string   `json:"description"`
	Options     []string `json:"options"`
}

// Error is a failed check: rspamd unreachable, too slow, or answering
// something other than a result.
type Error struct {
	Op  string
	Err error
}

func (e *Error) Error() string { return "rspamd " + e.Op + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Check posts the message to /checkv2 and returns rspamd's result. size is
// the message's length when known (sent as Content-Length), else -1: the
// message is then read into memory first, as rspamd wants the length
// before the body.
func (c *Client) Check(ctx context.Context, body io.Reader, size int64, m Meta) (*Result, error) {
	if size < 0 {
		b, err := io.ReadAll(body)
		if err != nil {
			return nil, &Error{"reading the message", err}
		}
		body, size = bytes.NewReader(b), int64(len(b))
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, body)
	if err != nil {
		return nil, &Error{"request", err}
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "message/rfc822")
	set := func(k, v string) {
		if v = headerSafe(v); v != "" {
			req.Header.Add(k, v)
		}
	}
	if m.IP.IsValid() {
		set("IP", m.IP.Unmap().String())
	}
	set("Helo", m.Helo)
	if m.From != "" {
		set("From", m.From)
	} else if m.NullFrom {
		set("From", "<>")
	}
	for _, r := range m.Rcpt {
		set("Rcpt", r)
	}
	set("Hostname", m.Hostname)
	set("User", m.User)
	set("Queue-Id", m.QueueID)

	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, &Error{"check", fmt.Errorf("no answer within %s", c.timeout)}
		}
		return nil, &Error{"check", err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, &Error{"reading the answer", err}
	}
	if len(raw) > MaxResponseBytes {
		return nil, &Error{"reading the answer", fmt.Errorf("answer larger than %d bytes", MaxResponseBytes)}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &Error{"check", fmt.Errorf("HTTP %d: %s", resp.StatusCode, snippet(raw))}
	}
	var r Result
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, &Error{"answer", fmt.Errorf("not rspamd's JSON: %v: %s", err, snippet(raw))}
	}
	if r.Action == "" {
		// rspamd answers errors with 200 and {"error": "..."} in some
		// versions; a result always has an action.
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(raw, &e)
		if e.Error != "" {
			return nil, &Error{"check", errors.New(e.Error)}
		}
		return nil, &Error{"answer", fmt.Errorf("no action in the answer: %s", snippet(raw))}
	}
	return &r, nil
}

// headerSafe drops what cannot travel in an HTTP header value (CR, LF and
// other controls); SMTP arguments have none, but a Helo is the client's.
func headerSafe(v string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, strings.TrimSpace(v))
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
