package httpcarrier

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/sms"
	"github.com/tidings/tidings/internal/sms/providertest"
)

const (
	gatewayKey   = "gw-api-key-123"
	webhookToken = "0123456789abcdef-token"
	deliverable  = "+12065550123"
	undeliver    = "+12065550199"
	ourNumber    = "+12065550100"
)

// gateway is a fake HTTP SMS gateway on loopback: it takes
// POST /v2/messages (JSON, Bearer key), answers 202 with its id, and
// posts "accepted" then "delivered" (or "undeliverable") to the
// configured callback URL, as JSON with a Bearer token.
type gateway struct {
	*httptest.Server
	mu       sync.Mutex
	callback string
	got      []map[string]any
	answer   int // HTTP status to answer with; 0: 202
	n        int
	wg       sync.WaitGroup
}

func startGateway(t *testing.T) *gateway {
	g := &gateway{}
	g.Server = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(func() { g.Close(); g.wg.Wait() })
	return g
}

func (g *gateway) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v2/messages" {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+gatewayKey {
		http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
		return
	}
	if r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, `{"error":"want JSON"}`, http.StatusUnsupportedMediaType)
		return
	}
	var m map[string]any
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		http.Error(w, `{"error":"bad JSON"}`, http.StatusBadRequest)
		return
	}
	for _, k := range []string{"from", "to", "text", "client_ref"} {
		if s, _ := m[k].(string); s == "" {
			http.Error(w, fmt.Sprintf(`{"error":"%s missing"}`, k), http.StatusUnprocessableEntity)
			return
		}
	}
	g.mu.Lock()
	g.got = append(g.got, m)
	g.n++
	id := fmt.Sprintf("gw-%04d", g.n)
	answer, cb := g.answer, g.callback
	g.mu.Unlock()
	if answer != 0 {
		w.WriteHeader(answer)
		_, _ = w.Write([]byte(`{"error":"as told"}`))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(map[string]any{"messages": []any{map[string]any{"id": id, "status": "accepted"}}})
	final := "delivered"
	if m["to"] == strings.TrimPrefix(undeliver, "+") {
		final = "undeliverable"
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		for _, st := range []string{"accepted", final} {
			body, _ := json.Marshal(map[string]any{"message_uuid": id, "client_ref": m["client_ref"], "status": st, "price": "0.0075"})
			req, _ := http.NewRequest(http.MethodPost, cb, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+webhookToken)
			// The gateway retries until the receiver says it has it.
			for range 50 {
				res, err := http.DefaultClient.Do(req.Clone(context.Background()))
				if err == nil {
					res.Body.Close()
					if res.StatusCode == http.StatusOK {
						break
					}
				}
				time.Sleep(20 * time.Millisecond)
				req.Body = io.NopCloser(bytes.NewReader(body))
			}
		}
	}()
}

func config(t *testing.T, gatewayURL string) *Config {
	t.Helper()
	c, err := Parse([]byte(`{
		"name": "fakegw",
		"request": {
			"method": "POST",
			"url": "` + gatewayURL + `/v2/messages",
			"headers": {"Authorization": "Bearer ` + gatewayKey + `"},
			"encoding": "json",
			"body": {"from": "{{.OriginationDigits}}", "to": "{{.DestinationDigits}}", "text": "{{.Body}}",
			         "client_ref": "{{.MessageID}}", "options": {"ttl": "{{.ValiditySeconds}}", "flash": false}}
		},
		"response": {"messageIdPath": "messages.0.id", "permanent": [400, 401, 422], "temporary": [429, 500, 503]},
		"webhook": {
			"token": "` + webhookToken + `",
			"receipt": {"messageIdPath": "message_uuid", "referencePath": "client_ref", "statusPath": "status",
			            "pricePath": "price",
			            "statuses": {"accepted": "SUCCESSFUL", "Delivered": "DELIVERED", "undeliverable": "UNREACHABLE"}},
			"inbound": {"idPath": "msisdn_id", "fromPath": "msisdn", "toPath": "to", "bodyPath": "text"}
		}
	}`))
	require.NoError(t, err)
	return c
}

// newCarrier starts a gateway and a carrier whose webhook listens on
// loopback, and points the gateway's callbacks at it.
func newCarrier(t *testing.T) (*Carrier, *gateway, string) {
	g := startGateway(t)
	c := New(config(t, g.URL), nil, nil)
	hook := httptest.NewServer(c.Handler())
	t.Cleanup(hook.Close)
	g.mu.Lock()
	g.callback = hook.URL + c.WebhookPath() + "receipts"
	g.mu.Unlock()
	return c, g, hook.URL
}

func TestConformance(t *testing.T) {
	t.Parallel()
	providertest.Run(t, providertest.Harness{
		New:         func(t *testing.T) sms.Provider { c, _, _ := newCarrier(t); return c },
		Deliverable: deliverable, Undeliverable: undeliver, Origination: ourNumber,
	})
}

type sink struct {
	mu       sync.Mutex
	receipts []sms.Receipt
	inbound  []sms.Inbound
	fail     error
}

func (s *sink) Receipt(_ context.Context, r sms.Receipt) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.receipts = append(s.receipts, r)
	return nil
}

func (s *sink) Inbound(_ context.Context, m sms.Inbound) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inbound = append(s.inbound, m)
	return nil
}

func TestRequestShape(t *testing.T) {
	t.Parallel()
	c, g, _ := newCarrier(t)
	sk := &sink{}
	require.NoError(t, c.Start(context.Background(), sk))
	body := `quote " backslash \ newline` + "\n{{.Body}}"
	pid, err := c.Submit(context.Background(), &sms.Outbound{MessageID: "m1", Channel: sms.ChannelText, Origination: ourNumber,
		Destination: deliverable, Body: body, ExpiresAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	require.Equal(t, "gw-0001", pid)
	g.mu.Lock()
	got := g.got[0]
	g.mu.Unlock()
	// The body is data, never a template; JSON escaping keeps it whole.
	require.Equal(t, body, got["text"])
	require.Equal(t, "12065550100", got["from"])
	require.Equal(t, "m1", got["client_ref"])
	opts := got["options"].(map[string]any)
	require.Equal(t, false, opts["flash"])
	require.Regexp(t, `^35[0-9]{2}$`, opts["ttl"])
}

func TestAnswers(t *testing.T) {
	t.Parallel()
	c, g, _ := newCarrier(t)
	require.NoError(t, c.Start(context.Background(), &sink{}))
	m := &sms.Outbound{MessageID: "m2", Channel: sms.ChannelText, Origination: ourNumber, Destination: deliverable, Body: "x"}
	for status, permanent := range map[int]bool{400: true, 422: true, 404: false /* not listed: temporary */, 429: false, 503: false, 302: false} {
		g.mu.Lock()
		g.answer = status
		g.mu.Unlock()
		_, err := c.Submit(context.Background(), m)
		require.Error(t, err, status)
		require.Equal(t, permanent, errorsIsRejected(err), "%d: %v", status, err)
	}
	// A channel the gateway does not carry is refused for good.
	_, err := c.Submit(context.Background(), &sms.Outbound{MessageID: "m3", Channel: sms.ChannelVoice, Destination: deliverable})
	require.True(t, errorsIsRejected(err))
}

func errorsIsRejected(err error) bool {
	return err != nil && strings.Contains(err.Error(), sms.ErrRejected.Error())
}

func TestWebhook(t *testing.T) {
	t.Parallel()
	c, _, hook := newCarrier(t)
	sk := &sink{}
	require.NoError(t, c.Start(context.Background(), sk))
	base := hook + c.WebhookPath()

	// No token, a wrong one: 401.
	res, err := http.Post(base+"receipts", "application/json", strings.NewReader(`{"message_uuid":"gw-1","status":"delivered"}`))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	res, err = http.Post(base+"receipts?token=nope", "application/json", strings.NewReader(`{"message_uuid":"gw-1","status":"delivered"}`))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)

	// A form receipt with the token in the query; statuses match without case.
	res, err = http.PostForm(base+"receipts?token="+webhookToken, url.Values{"message_uuid": {"gw-7"}, "status": {"DELIVERED"}, "price": {"0.01"}})
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	// An unknown status is ignored with 200; a receipt naming nothing is 400.
	res, err = http.PostForm(base+"receipts?token="+webhookToken, url.Values{"message_uuid": {"gw-7"}, "status": {"buffered"}})
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, err = http.PostForm(base+"receipts?token="+webhookToken, url.Values{"status": {"delivered"}})
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusBadRequest, res.StatusCode)
	sk.mu.Lock()
	require.Equal(t, []sms.Receipt{{ProviderID: "gw-7", Status: sms.StatusDelivered, Description: "gateway status DELIVERED", PriceUSD: 0.01, At: sk.receipts[0].At}}, sk.receipts)
	sk.mu.Unlock()

	// An inbound message as a GET with the query, numbers without '+'.
	res, err = http.Get(base + "inbound?token=" + webhookToken + "&msisdn=12065550123&to=12065550100&text=STOP&msisdn_id=abc")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	sk.mu.Lock()
	require.Len(t, sk.inbound, 1)
	require.Equal(t, sms.Inbound{ID: "fakegw-abc", Origination: deliverable, Destination: ourNumber, Body: "STOP", At: sk.inbound[0].At}, sk.inbound[0])
	sk.mu.Unlock()

	// The sink failing: 503; not knowing the message (yet): 404. The
	// gateway retries both.
	sk.mu.Lock()
	sk.fail = fault.Unavailablef("database busy")
	sk.mu.Unlock()
	res, err = http.PostForm(base+"receipts?token="+webhookToken, url.Values{"message_uuid": {"gw-8"}, "status": {"delivered"}})
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	sk.mu.Lock()
	sk.fail = fault.NotFoundf("no such message")
	sk.mu.Unlock()
	res, err = http.PostForm(base+"receipts?token="+webhookToken, url.Values{"message_uuid": {"gw-8"}, "status": {"delivered"}})
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusNotFound, res.StatusCode)

	// Closed: 503.
	require.NoError(t, c.Close())
	res, err = http.PostForm(base+"receipts?token="+webhookToken, url.Values{"message_uuid": {"gw-9"}, "status": {"delivered"}})
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ json, want string }{
		"not JSON":        {`{`, "not a gateway description"},
		"unknown field":   {`{"request":{"url":"http://x/","body":{"a":"b"}},"bogus":1}`, "bogus"},
		"no url":          {`{"request":{"body":{"a":"b"}}}`, "request.url: required"},
		"ftp url":         {`{"request":{"url":"ftp://x/","body":{"a":"b"}}}`, "request.url"},
		"bad template":    {`{"request":{"url":"http://x/","body":{"a":"{{.Nope}}"}}}`, "request.body"},
		"unclosed":        {`{"request":{"url":"http://x/{{","body":{"a":"b"}}}`, "request.url"},
		"bad method":      {`{"request":{"method":"DELETE","url":"http://x/","body":{"a":"b"}}}`, "request.method"},
		"get with body":   {`{"request":{"method":"GET","url":"http://x/","body":{"a":"b"}}}`, "GET request has no body"},
		"form nested":     {`{"request":{"url":"http://x/","encoding":"form","body":{"a":{"b":"c"}}}}`, "form field"},
		"bad encoding":    {`{"request":{"url":"http://x/","encoding":"xml","body":{"a":"b"}}}`, "request.encoding"},
		"bad status":      {`{"request":{"url":"http://x/","body":{"a":"b"}},"response":{"success":[999]}}`, "not an HTTP status"},
		"twice":           {`{"request":{"url":"http://x/","body":{"a":"b"}},"response":{"success":[200],"temporary":[200]}}`, "listed twice"},
		"short token":     {`{"request":{"url":"http://x/","body":{"a":"b"}},"webhook":{"token":"x","receipt":{"referencePath":"r","statusPath":"s","statuses":{"ok":"DELIVERED"}}}}`, "webhook.token"},
		"bad status name": {`{"request":{"url":"http://x/","body":{"a":"b"}},"webhook":{"token":"0123456789abcdef","receipt":{"referencePath":"r","statusPath":"s","statuses":{"ok":"GREAT"}}}}`, "webhook.receipt.statuses.ok"},
		"id no response":  {`{"request":{"url":"http://x/","body":{"a":"b"}},"webhook":{"token":"0123456789abcdef","receipt":{"messageIdPath":"r","statusPath":"s","statuses":{"ok":"DELIVERED"}}}}`, "response.messageIdPath"},
		"bad name":        {`{"name":"My GW","request":{"url":"http://x/","body":{"a":"b"}}}`, "name"},
		"bad channel":     {`{"channels":["VOICE"],"request":{"url":"http://x/","body":{"a":"b"}}}`, "channels"},
		"inbound no body": {`{"request":{"url":"http://x/","body":{"a":"b"}},"webhook":{"token":"0123456789abcdef","inbound":{"fromPath":"f","toPath":"t"}}}`, "webhook.inbound"},
	} {
		_, err := Parse([]byte(tc.json))
		require.Error(t, err, name)
		require.Contains(t, err.Error(), tc.want, name)
	}
	// A GET gateway with everything in the URL.
	c, err := Parse([]byte(`{"request":{"method":"GET","url":"https://gw.example/send?to={{urlquery .Destination}}&text={{urlquery .Body}}"}}`))
	require.NoError(t, err)
	u, err := render(c.url, Fields{Destination: "+1206", Body: "a&b c"})
	require.NoError(t, err)
	require.Equal(t, "https://gw.example/send?to=%2B1206&text=a%26b+c", u)
}

func TestE164(t *testing.T) {
	t.Parallel()
	require.Equal(t, "+12065550100", E164("12065550100"))
	require.Equal(t, "+12065550100", E164("+1 206-555-0100"))
	require.Equal(t, "12345", E164("12345"))
	require.Equal(t, "Tidings", E164("Tidings"))
}
