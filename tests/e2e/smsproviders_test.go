package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/client"
	"github.com/tidings/tidings/internal/sms/whatsapp/cloudapitest"
)

// waitFinal polls the native API until a message has a final status.
func waitFinal(t *testing.T, s *Server, id string) (status string, events []string) {
	t.Helper()
	c := &client.Client{Endpoint: s.URL, Region: region, AccessKeyID: s.KeyID, Secret: s.Secret, HTTP: http.DefaultClient}
	var m struct {
		Status string            `json:"status"`
		Final  bool              `json:"final"`
		Events []json.RawMessage `json:"events"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		require.NoError(t, c.Native(context.Background(), "sms-voice", "GET", "/v1/sms/messages/"+id, "", nil, &m))
		if m.Final {
			break
		}
		require.True(t, time.Now().Before(deadline), "no final status: %+v; server log:\n%s", m, s.Log())
		time.Sleep(50 * time.Millisecond)
	}
	for _, e := range m.Events {
		var ev struct{ EventType string }
		require.NoError(t, json.Unmarshal(e, &ev))
		events = append(events, ev.EventType)
	}
	return m.Status, events
}

func cliJSON(t *testing.T, env []string, out any, args ...string) {
	t.Helper()
	stdout, errOut, code := run(t, env, nil, awsBin, append(args, "--output", "json")...)
	require.Equal(t, 0, code, errOut)
	require.NoError(t, json.Unmarshal([]byte(stdout), out), stdout)
}

// TestHTTPGateway sends through a server whose carrier is an HTTP SMS
// gateway (TIDINGS_SMS_HTTP_PROVIDER): a fake gateway on loopback takes the
// JSON request, answers with its id, and posts its receipts (form) and a
// STOP from the handset (JSON) to Tidings' webhook.
func TestHTTPGateway(t *testing.T) {
	t.Parallel()
	const key, hookToken = "gw-key-e2e", "e2e-webhook-token-0123"
	var (
		mu       sync.Mutex
		got      []map[string]string
		callback string
	)
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]string
		if r.URL.Path != "/sms/send" || r.Header.Get("X-Api-Key") != key || json.NewDecoder(r.Body).Decode(&m) != nil {
			http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, m)
		id := fmt.Sprintf("gw-%d", len(got))
		cb := callback
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"result":{"id":%q}}`, id)
		go func() {
			for _, st := range []string{"ACCEPTD", "DELIVRD"} {
				for range 100 {
					res, err := http.PostForm(cb+"receipts?token="+hookToken, map[string][]string{"id": {id}, "stat": {st}})
					if err == nil {
						res.Body.Close()
						if res.StatusCode == 200 {
							break
						}
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}))
	t.Cleanup(gw.Close)
	desc := filepath.Join(t.TempDir(), "gateway.json")
	require.NoError(t, os.WriteFile(desc, []byte(`{
		"name": "e2egw",
		"request": {"url": "`+gw.URL+`/sms/send", "headers": {"X-Api-Key": "`+key+`"},
		            "body": {"src": "{{.Origination}}", "dst": "{{.Destination}}", "text": "{{.Body}}", "ref": "{{.MessageID}}"}},
		"response": {"messageIdPath": "result.id"},
		"webhook": {"token": "`+hookToken+`",
		            "receipt": {"messageIdPath": "id", "statusPath": "stat",
		                        "statuses": {"ACCEPTD": "SUCCESSFUL", "DELIVRD": "DELIVERED", "UNDELIV": "UNREACHABLE"}},
		            "inbound": {"fromPath": "from", "toPath": "to", "bodyPath": "body", "idPath": "id"}}
	}`), 0o600))
	s := startServer(t, serverOpts{Env: []string{"TIDINGS_SMS_HTTP_PROVIDER=" + desc}})
	mu.Lock()
	callback = s.URL + "/v1/sms/webhooks/http/e2egw/"
	mu.Unlock()
	env := s.clientEnv("", "")

	var n struct{ PhoneNumberId, PhoneNumber string }
	cliJSON(t, env, &n, "pinpoint-sms-voice-v2", "request-phone-number", "--iso-country-code", "US", "--message-type", "TRANSACTIONAL",
		"--number-capabilities", "SMS", "--number-type", "LONG_CODE")
	var sent struct{ MessageId string }
	cliJSON(t, env, &sent, "pinpoint-sms-voice-v2", "send-text-message", "--destination-phone-number", "+12065550123",
		"--origination-identity", n.PhoneNumberId, "--message-body", `Your code is "424242"`)
	status, events := waitFinal(t, s, sent.MessageId)
	require.Equal(t, "DELIVERED", status)
	require.Equal(t, []string{"TEXT_SUCCESSFUL", "TEXT_DELIVERED"}, events)
	mu.Lock()
	require.Equal(t, []map[string]string{{"src": n.PhoneNumber, "dst": "+12065550123", "text": `Your code is "424242"`, "ref": sent.MessageId}}, got)
	mu.Unlock()

	// The handset answers STOP through the gateway: opted out, and the
	// next send to it is refused.
	body, _ := json.Marshal(map[string]string{"from": "12065550123", "to": n.PhoneNumber, "body": "stop", "id": "mo-1"})
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/sms/webhooks/http/e2egw/inbound", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+hookToken)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode, s.Log())
	_, errOut, code := run(t, env, nil, awsBin, "pinpoint-sms-voice-v2", "send-text-message", "--destination-phone-number", "+12065550123",
		"--origination-identity", n.PhoneNumberId, "--message-body", "again")
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "ConflictException")
	require.Contains(t, errOut, "opt-out list")

	// A callback without the token is refused.
	res, err = http.PostForm(s.URL+"/v1/sms/webhooks/http/e2egw/receipts", map[string][]string{"id": {"gw-1"}, "stat": {"DELIVRD"}})
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
}

// TestHTTPGatewayBadDescription: a gateway description with an error
// stops the start with a message naming the field.
func TestHTTPGatewayBadDescription(t *testing.T) {
	t.Parallel()
	desc := filepath.Join(t.TempDir(), "gateway.json")
	require.NoError(t, os.WriteFile(desc, []byte(`{"request": {"url": "http://127.0.0.1:1/", "body": {"to": "{{.Dest}}"}}}`), 0o600))
	out, errOut, code := run(t, nil, nil, tidingsBin, "serve", "--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0",
		"--sms-http-provider", desc)
	require.NotEqual(t, 0, code, out)
	require.Contains(t, errOut, "TIDINGS_SMS_HTTP_PROVIDER")
	require.Contains(t, errOut, "request.body")
}

// TestWhatsApp sends through WhatsApp business numbers of a fake Cloud API
// (TIDINGS_WHATSAPP_CONFIG): the number appears in the account, a text and
// a template message go out as the Cloud API wants them, its signed status
// notifications make them TEXT_DELIVERED (or a failure), and a STOP
// written to the number opts the sender out.
func TestWhatsApp(t *testing.T) {
	t.Parallel()
	const (
		token, secret, verify = "EAAGe2etoken", "e2e-app-secret-0123456789", "e2e-verify"
		phoneID, business     = "106540352242922", "+12065550188"
		person, unreachable   = "+12065550123", "+12065550199"
	)
	api := cloudapitest.Start(t, "v21.0", token, secret, phoneID, business, unreachable)
	conf := filepath.Join(t.TempDir(), "whatsapp.json")
	require.NoError(t, os.WriteFile(conf, []byte(`{"baseUrl": "`+api.URL+`", "apiVersion": "v21.0", "accessToken": "`+token+`",
		"appSecret": "`+secret+`", "verifyToken": "`+verify+`",
		"numbers": [{"phoneNumberId": "`+phoneID+`", "phoneNumber": "`+business+`", "accountId": "`+accountID+`"}]}`), 0o600))
	s := startServer(t, serverOpts{Env: []string{"TIDINGS_WHATSAPP_CONFIG=" + conf}})
	hook := s.URL + "/v1/sms/webhooks/whatsapp"
	api.SetHook(hook)
	env := s.clientEnv("", "")

	// Meta's subscription handshake.
	res, err := http.Get(hook + "?hub.mode=subscribe&hub.verify_token=" + verify + "&hub.challenge=8855")
	require.NoError(t, err)
	var challenge bytes.Buffer
	_, _ = challenge.ReadFrom(res.Body)
	res.Body.Close()
	require.Equal(t, "8855", challenge.String())

	var numbers struct {
		PhoneNumbers []struct {
			PhoneNumberId, PhoneNumber string
			Status                     string
		}
	}
	cliJSON(t, env, &numbers, "pinpoint-sms-voice-v2", "describe-phone-numbers")
	require.Len(t, numbers.PhoneNumbers, 1)
	require.Equal(t, business, numbers.PhoneNumbers[0].PhoneNumber)
	require.Equal(t, "ACTIVE", numbers.PhoneNumbers[0].Status)
	id := numbers.PhoneNumbers[0].PhoneNumberId

	var text, tpl, failed struct{ MessageId string }
	cliJSON(t, env, &text, "pinpoint-sms-voice-v2", "send-text-message", "--destination-phone-number", person,
		"--origination-identity", id, "--message-body", "Hello from Tidings")
	cliJSON(t, env, &tpl, "pinpoint-sms-voice-v2", "send-text-message", "--destination-phone-number", person,
		"--origination-identity", business, "--message-body", "Your code is 424242",
		"--context", `{"whatsapp:template": "otp_code", "whatsapp:language": "en_US", "whatsapp:parameters": "[\"424242\"]"}`)
	cliJSON(t, env, &failed, "pinpoint-sms-voice-v2", "send-text-message", "--destination-phone-number", unreachable,
		"--origination-identity", id, "--message-body", "Hello?")
	for _, m := range []string{text.MessageId, tpl.MessageId} {
		status, events := waitFinal(t, s, m)
		require.Equal(t, "DELIVERED", status)
		require.Equal(t, []string{"TEXT_SUCCESSFUL", "TEXT_DELIVERED"}, events)
	}
	status, events := waitFinal(t, s, failed.MessageId)
	require.Equal(t, "UNREACHABLE", status)
	require.Equal(t, []string{"TEXT_SUCCESSFUL", "TEXT_UNREACHABLE"}, events)

	var sawText, sawTemplate bool
	for _, m := range api.Messages() {
		switch m["type"] {
		case "text":
			sawText = sawText || m["to"] == strings.TrimPrefix(person, "+") && m["text"].(map[string]any)["body"] == "Hello from Tidings"
		case "template":
			tm := m["template"].(map[string]any)
			sawTemplate = tm["name"] == "otp_code" && tm["language"].(map[string]any)["code"] == "en_US"
		}
	}
	require.True(t, sawText && sawTemplate, "%v", api.Messages())

	// The person writes STOP on WhatsApp.
	require.Equal(t, http.StatusOK, api.Inbound(hook, person, "wamid.MO1", "STOP"), s.Log())
	var opted struct {
		OptedOutNumbers []struct{ OptedOutNumber string }
	}
	cliJSON(t, env, &opted, "pinpoint-sms-voice-v2", "describe-opted-out-numbers", "--opt-out-list-name", "Default")
	require.Len(t, opted.OptedOutNumbers, 1)
	require.Equal(t, person, opted.OptedOutNumbers[0].OptedOutNumber)

	// A notification not signed with the app secret is refused.
	req, _ := http.NewRequest(http.MethodPost, hook, strings.NewReader(`{"object":"whatsapp_business_account","entry":[]}`))
	req.Header.Set("X-Hub-Signature-256", "sha256=00")
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
}

// TestSpendLimit: a text spend limit of 0 USD refuses sends with the
// exception and reason AWS uses (boto3 reads Reason), and removing the
// override lets them through.
func TestSpendLimit(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	env := s.clientEnv("", "")
	script := `
import boto3, json, sys
c = boto3.client("pinpoint-sms-voice-v2")
n = c.request_phone_number(IsoCountryCode="US", MessageType="TRANSACTIONAL", NumberCapabilities=["SMS"], NumberType="SIMULATOR")
c.set_text_message_spend_limit_override(MonthlyLimit=0)
try:
    c.send_text_message(DestinationPhoneNumber="+14254147755", OriginationIdentity=n["PhoneNumberId"], MessageBody="hi")
    print(json.dumps({"refused": False}))
except c.exceptions.ServiceQuotaExceededException as e:
    print(json.dumps({"refused": True, "reason": e.response.get("Reason"), "code": e.response["Error"]["Code"]}))
c.delete_text_message_spend_limit_override()
c.send_text_message(DestinationPhoneNumber="+14254147755", OriginationIdentity=n["PhoneNumberId"], MessageBody="hi")
limits = {l["Name"]: l for l in c.describe_spend_limits()["SpendLimits"]}
print(json.dumps({"enforced": limits["TEXT_MESSAGE_MONTHLY_SPEND_LIMIT"]["EnforcedLimit"]}))
`
	out, errOut, code := run(t, env, nil, pythonBin, "-c", script)
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2, out)
	require.JSONEq(t, `{"refused": true, "reason": "MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT", "code": "ServiceQuotaExceededException"}`, lines[0])
	require.JSONEq(t, `{"enforced": 1000000}`, lines[1])

	// The AWS CLI shows the exception too.
	_, errOut, code = run(t, env, nil, awsBin, "pinpoint-sms-voice-v2", "set-media-message-spend-limit-override", "--monthly-limit", "0")
	require.Equal(t, 0, code, errOut)
	var n struct{ PhoneNumberId string }
	cliJSON(t, env, &n, "pinpoint-sms-voice-v2", "request-phone-number", "--iso-country-code", "US", "--message-type", "TRANSACTIONAL",
		"--number-capabilities", "MMS", "--number-type", "SIMULATOR")
	_, errOut, code = run(t, env, nil, awsBin, "pinpoint-sms-voice-v2", "send-media-message", "--destination-phone-number", "+14254147755",
		"--origination-identity", n.PhoneNumberId, "--message-body", "pic")
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "ServiceQuotaExceededException")
}
