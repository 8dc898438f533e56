// Package cloudapitest is a fake of the WhatsApp Cloud API on loopback for
// tests: it checks requests as the Graph API does (bearer token, JSON,
// messaging_product, a known phone number id, a well-formed text, template
// or media message), answers with a wamid, and posts status notifications
// signed with the app secret (X-Hub-Signature-256) to Hook: sent, then
// delivered and read, or failed (131026) for the Undeliverable number.
package cloudapitest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// API is the fake.
type API struct {
	*httptest.Server
	Version, Token, AppSecret string
	PhoneNumberID, Number     string // the business number (E.164)
	Undeliverable             string // E.164 of a destination whose messages fail

	mu   sync.Mutex
	hook string
	got  []map[string]any
	n    int
	fail int
	wg   sync.WaitGroup
}

// Start starts a fake; set its hook with SetHook before the first send.
func Start(t testing.TB, version, token, appSecret, phoneNumberID, number, undeliverable string) *API {
	f := &API{Version: version, Token: token, AppSecret: appSecret, PhoneNumberID: phoneNumberID, Number: number, Undeliverable: undeliverable}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() { f.Close(); f.wg.Wait() })
	return f
}

// SetHook sets the webhook URL notifications go to.
func (f *API) SetHook(u string) { f.mu.Lock(); f.hook = u; f.mu.Unlock() }

// Fail makes the next sends answer 400 with a Graph error code (0: stop).
func (f *API) Fail(code int) { f.mu.Lock(); f.fail = code; f.mu.Unlock() }

// Messages returns the messages taken, as posted.
func (f *API) Messages() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.got...)
}

func graphError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": "OAuthException", "code": code, "fbtrace_id": "Axyz"}})
}

func (f *API) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/"+f.Version+"/"+f.PhoneNumberID+"/messages" {
		graphError(w, http.StatusBadRequest, 100, "Unsupported post request. Object with ID does not exist")
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+f.Token {
		graphError(w, http.StatusUnauthorized, 190, "Invalid OAuth access token")
		return
	}
	var m map[string]any
	if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&m) != nil {
		graphError(w, http.StatusBadRequest, 100, "Invalid parameter")
		return
	}
	to, _ := m["to"].(string)
	if m["messaging_product"] != "whatsapp" || to == "" || strings.HasPrefix(to, "+") {
		graphError(w, http.StatusBadRequest, 100, "Invalid parameter")
		return
	}
	switch m["type"] {
	case "text":
		t, _ := m["text"].(map[string]any)
		if b, _ := t["body"].(string); b == "" {
			graphError(w, http.StatusBadRequest, 100, "Param text['body'] is required")
			return
		}
	case "template":
		t, _ := m["template"].(map[string]any)
		lang, _ := t["language"].(map[string]any)
		if t["name"] == nil || lang["code"] == nil {
			graphError(w, http.StatusBadRequest, 132000, "Number of parameters does not match the expected number of params")
			return
		}
	case "image", "document", "video", "audio":
		md, _ := m[m["type"].(string)].(map[string]any)
		if l, _ := md["link"].(string); !strings.HasPrefix(l, "https://") {
			graphError(w, http.StatusBadRequest, 131053, "Media upload error")
			return
		}
	default:
		graphError(w, http.StatusBadRequest, 131051, "Unsupported message type")
		return
	}
	f.mu.Lock()
	if f.fail != 0 {
		code := f.fail
		f.mu.Unlock()
		graphError(w, http.StatusBadRequest, code, "as told")
		return
	}
	f.got = append(f.got, m)
	f.n++
	wamid := fmt.Sprintf("wamid.HBgL%08d", f.n)
	hook := f.hook
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"messaging_product": "whatsapp",
		"contacts": []any{map[string]any{"input": to, "wa_id": to}}, "messages": []any{map[string]any{"id": wamid}}})

	now := time.Now().Unix()
	ts := func(d int64) string { return fmt.Sprint(now + d) }
	statuses := []map[string]any{{"id": wamid, "status": "sent", "timestamp": ts(0), "recipient_id": to}}
	if "+"+to == f.Undeliverable {
		statuses = append(statuses, map[string]any{"id": wamid, "status": "failed", "timestamp": ts(1), "recipient_id": to,
			"errors": []any{map[string]any{"code": 131026, "title": "Message undeliverable"}}})
	} else {
		statuses = append(statuses, map[string]any{"id": wamid, "status": "delivered", "timestamp": ts(1), "recipient_id": to},
			map[string]any{"id": wamid, "status": "read", "timestamp": ts(2), "recipient_id": to})
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for _, st := range statuses {
			f.Notify(hook, map[string]any{"statuses": []any{st}})
		}
	}()
}

// Sign is the X-Hub-Signature-256 of body.
func (f *API) Sign(body []byte) string {
	mac := hmac.New(sha256.New, []byte(f.AppSecret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Notify posts a signed notification with one change value to hook,
// retrying on 5xx and connection errors as Meta does; it returns the last
// HTTP status.
func (f *API) Notify(hook string, v map[string]any) int {
	v["messaging_product"] = "whatsapp"
	v["metadata"] = map[string]any{"display_phone_number": strings.TrimPrefix(f.Number, "+"), "phone_number_id": f.PhoneNumberID}
	body, _ := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{
		"id": "102290129340398", "changes": []any{map[string]any{"field": "messages", "value": v}}}}})
	status := 0
	for range 100 {
		req, _ := http.NewRequest(http.MethodPost, hook, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Hub-Signature-256", f.Sign(body))
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			status = res.StatusCode
			if status < 500 {
				return status
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return status
}

// Inbound posts a text message from a person (E.164) to the business number.
func (f *API) Inbound(hook, from, id, text string) int {
	from = strings.TrimPrefix(from, "+")
	return f.Notify(hook, map[string]any{"contacts": []any{map[string]any{"wa_id": from, "profile": map[string]any{"name": "Ana"}}},
		"messages": []any{map[string]any{"from": from, "id": id, "timestamp": fmt.Sprint(time.Now().Unix()), "type": "text",
			"text": map[string]any{"body": text}}}})
}
