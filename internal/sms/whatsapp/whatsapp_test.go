package whatsapp

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/sms"
	"github.com/tidings/tidings/internal/sms/providertest"
	"github.com/tidings/tidings/internal/sms/whatsapp/cloudapitest"
)

const (
	token       = "EAAGtesttoken"
	appSecret   = "0123456789abcdef0123456789abcdef"
	verifyToken = "verify-me-please"
	phoneID     = "106540352242922"
	business    = "+15550783881"
	deliverable = "+16315551234"
	undeliver   = "+16315559999"
)

func testConfig(t *testing.T, base string) *Config {
	c, err := Parse([]byte(`{"baseUrl": "` + base + `", "accessToken": "` + token + `", "appSecret": "` + appSecret + `",
		"verifyToken": "` + verifyToken + `", "numbers": [{"phoneNumberId": "` + phoneID + `", "phoneNumber": "` + business + `", "accountId": "000000000000"}]}`))
	require.NoError(t, err)
	return c
}

func newProvider(t *testing.T) (*Provider, *cloudapitest.API, string) {
	api := cloudapitest.Start(t, "v21.0", token, appSecret, phoneID, business, undeliver)
	p := New(testConfig(t, api.URL), nil, nil)
	hook := httptest.NewServer(p.Handler())
	t.Cleanup(hook.Close)
	api.SetHook(hook.URL + WebhookPath)
	return p, api, hook.URL + WebhookPath
}

func TestConformance(t *testing.T) {
	t.Parallel()
	providertest.Run(t, providertest.Harness{
		New:         func(t *testing.T) sms.Provider { p, _, _ := newProvider(t); return p },
		Deliverable: deliverable, Undeliverable: undeliver, Origination: business,
	})
}

type sink struct {
	mu       sync.Mutex
	receipts []sms.Receipt
	inbound  []sms.Inbound
}

func (s *sink) Receipt(_ context.Context, r sms.Receipt) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.receipts = append(s.receipts, r)
	return nil
}

func (s *sink) Inbound(_ context.Context, m sms.Inbound) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inbound = append(s.inbound, m)
	return nil
}

func TestMessages(t *testing.T) {
	t.Parallel()
	p, api, _ := newProvider(t)
	require.NoError(t, p.Start(context.Background(), &sink{}))
	send := func(m *sms.Outbound) (string, error) {
		m.Origination, m.Destination = business, deliverable
		return p.Submit(context.Background(), m)
	}
	_, err := send(&sms.Outbound{MessageID: "t", Channel: sms.ChannelText, Body: "Your code is 424242"})
	require.NoError(t, err)
	_, err = send(&sms.Outbound{MessageID: "tpl", Channel: sms.ChannelText, Body: "(template)", Context: map[string]string{
		ContextTemplate: "otp_code", ContextLanguage: "pt_BR", ContextParameters: `["424242"]`}})
	require.NoError(t, err)
	_, err = send(&sms.Outbound{MessageID: "img", Channel: sms.ChannelMedia, Body: "a cat", MediaURLs: []string{"https://cdn.example/cat.JPG"}})
	require.NoError(t, err)
	got := api.Messages()
	require.Len(t, got, 3)
	require.Equal(t, map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16315551234", "type": "text",
		"text": map[string]any{"body": "Your code is 424242", "preview_url": false}}, got[0])
	require.Equal(t, map[string]any{"name": "otp_code", "language": map[string]any{"code": "pt_BR"}, "components": []any{
		map[string]any{"type": "body", "parameters": []any{map[string]any{"type": "text", "text": "424242"}}}}}, got[1]["template"])
	require.Equal(t, map[string]any{"link": "https://cdn.example/cat.JPG", "caption": "a cat"}, got[2]["image"])

	// Refusals: bad template parameters, two media, an http link, a
	// number not configured, Graph's permanent errors; throttling retries.
	for name, m := range map[string]*sms.Outbound{
		"params": {Channel: sms.ChannelText, Context: map[string]string{ContextTemplate: "x", ContextParameters: "nope"}},
		"two":    {Channel: sms.ChannelMedia, MediaURLs: []string{"https://a/1.png", "https://a/2.png"}},
		"http":   {Channel: sms.ChannelMedia, MediaURLs: []string{"http://a/1.png"}},
		"voice":  {Channel: sms.ChannelVoice},
	} {
		_, err := send(m)
		require.ErrorIs(t, err, sms.ErrRejected, name)
	}
	_, err = p.Submit(context.Background(), &sms.Outbound{Channel: sms.ChannelText, Body: "x", Origination: "+15550000000", Destination: deliverable})
	require.ErrorIs(t, err, sms.ErrRejected)
	for code, permanent := range map[int]bool{131009: true, 130429: false, 131056: false} {
		api.Fail(code)
		_, err = send(&sms.Outbound{Channel: sms.ChannelText, Body: "x"})
		require.Error(t, err)
		require.Equal(t, permanent, errorsIs(err, sms.ErrRejected), "%d: %v", code, err)
	}
}

func errorsIs(err, target error) bool {
	return err != nil && strings.Contains(err.Error(), target.Error())
}

func TestWebhook(t *testing.T) {
	t.Parallel()
	p, api, hook := newProvider(t)
	sk := &sink{}
	require.NoError(t, p.Start(context.Background(), sk))

	// The verification handshake.
	res, err := http.Get(hook + "?hub.mode=subscribe&hub.verify_token=" + verifyToken + "&hub.challenge=1158201444")
	require.NoError(t, err)
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "1158201444", string(b))
	res, err = http.Get(hook + "?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusForbidden, res.StatusCode)

	// Unsigned and wrongly signed notifications are refused.
	body := []byte(`{"object":"whatsapp_business_account","entry":[]}`)
	for _, sig := range []string{"", "sha256=00", Sign("another secret", body)} {
		req, _ := http.NewRequest(http.MethodPost, hook, bytes.NewReader(body))
		if sig != "" {
			req.Header.Set("X-Hub-Signature-256", sig)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	}

	// A message from a person: text and a quick-reply button.
	require.Equal(t, http.StatusOK, api.Notify(hook, map[string]any{"contacts": []any{map[string]any{"wa_id": "16315551234"}},
		"messages": []any{
			map[string]any{"from": "16315551234", "id": "wamid.IN1", "timestamp": "1700000000", "type": "text", "text": map[string]any{"body": "STOP"}},
			map[string]any{"from": "16315551234", "id": "wamid.IN2", "timestamp": "1700000001", "type": "button", "button": map[string]any{"text": "Yes", "payload": "y"}},
		}}))
	sk.mu.Lock()
	require.Equal(t, []sms.Inbound{
		{ID: "wa-wamid.IN1", Origination: deliverable, Destination: business, Body: "STOP", At: time.Unix(1700000000, 0).UTC()},
		{ID: "wa-wamid.IN2", Origination: deliverable, Destination: business, Body: "Yes", At: time.Unix(1700000001, 0).UTC()},
	}, sk.inbound)
	sk.mu.Unlock()

	// Status mapping.
	for code, want := range map[int]sms.Status{131026: sms.StatusUnreachable, 131049: sms.StatusBlocked, 131047: sms.StatusInvalidMessage,
		132001: sms.StatusInvalidMessage, 131021: sms.StatusInvalid, 999: sms.StatusUnreachable} {
		r, ok := receipt(status{ID: "w", Status: "failed", Errors: []statusErr{{Code: code, Title: "t"}}})
		require.True(t, ok)
		require.Equal(t, want, r.Status, code)
		require.True(t, r.Status.Final())
	}
	_, ok := receipt(status{ID: "w", Status: "deleted"})
	require.False(t, ok)

	// Closed: 503, Meta retries later.
	require.NoError(t, p.Close())
	body = []byte(`{"object":"whatsapp_business_account","entry":[]}`)
	req, _ := http.NewRequest(http.MethodPost, hook, bytes.NewReader(body))
	req.Header.Set("X-Hub-Signature-256", Sign(appSecret, body))
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	ok := `"accessToken":"t","appSecret":"0123456789abcdef","verifyToken":"12345678"`
	num := `"numbers":[{"phoneNumberId":"1","phoneNumber":"+15550783881","accountId":"000000000000"}]`
	for want, js := range map[string]string{
		"not a WhatsApp": `[`,
		"bogus":          `{"bogus":1}`,
		"baseUrl":        `{"baseUrl":"graph.facebook.com",` + ok + `,` + num + `}`,
		"apiVersion":     `{"apiVersion":"21",` + ok + `,` + num + `}`,
		"accessToken":    `{"appSecret":"0123456789abcdef","verifyToken":"12345678",` + num + `}`,
		"appSecret":      `{"accessToken":"t","verifyToken":"12345678",` + num + `}`,
		"verifyToken":    `{"accessToken":"t","appSecret":"0123456789abcdef",` + num + `}`,
		"numbers:":       `{` + ok + `}`,
		"phoneNumberId":  `{` + ok + `,"numbers":[{"phoneNumberId":"abc","phoneNumber":"+15550783881","accountId":"000000000000"}]}`,
		"].phoneNumber ": `{` + ok + `,"numbers":[{"phoneNumberId":"1","phoneNumber":"15550783881","accountId":"000000000000"}]}`,
		"accountId":      `{` + ok + `,"numbers":[{"phoneNumberId":"1","phoneNumber":"+15550783881","accountId":"1"}]}`,
		"listed twice":   `{` + ok + `,"numbers":[{"phoneNumberId":"1","phoneNumber":"+15550783881","accountId":"000000000000"},{"phoneNumberId":"1","phoneNumber":"+15550783882","accountId":"000000000000"}]}`,
	} {
		_, err := Parse([]byte(js))
		require.Error(t, err, want)
		require.Contains(t, err.Error(), want)
	}
	c, err := Parse([]byte(`{` + ok + `,` + num + `}`))
	require.NoError(t, err)
	require.Equal(t, "https://graph.facebook.com", c.BaseURL)
	require.Equal(t, "v21.0", c.APIVersion)
}
