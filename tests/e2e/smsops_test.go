package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// smsOutboxGateway is a fake HTTP SMS gateway (TIDINGS_SMS_HTTP_PROVIDER)
// that appends each message it is given to a file, one JSON object a line
// ({"src", "dst", "text", "ref"}), and sends no receipts.
func smsOutboxGateway(t *testing.T) (desc, outbox string) {
	t.Helper()
	dir := t.TempDir()
	outbox = filepath.Join(dir, "outbox.jsonl")
	var (
		mu sync.Mutex
		n  int
	)
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]string
		if r.URL.Path != "/sms/send" || json.NewDecoder(r.Body).Decode(&m) != nil {
			http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
			return
		}
		line, _ := json.Marshal(m)
		mu.Lock()
		defer mu.Unlock()
		f, err := os.OpenFile(outbox, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err == nil {
			_, err = f.Write(append(line, '\n'))
			f.Close()
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		n++
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"result":{"id":"gw-%d"}}`, n)
	}))
	t.Cleanup(gw.Close)
	desc = filepath.Join(dir, "gateway.json")
	require.NoError(t, os.WriteFile(desc, []byte(`{
		"name": "outbox",
		"request": {"url": "`+gw.URL+`/sms/send",
		            "body": {"src": "{{.Origination}}", "dst": "{{.Destination}}", "text": "{{.Body}}", "ref": "{{.MessageID}}"}},
		"response": {"messageIdPath": "result.id"},
		"webhook": {"token": "outbox-webhook-token-0123",
		            "receipt": {"messageIdPath": "id", "statusPath": "stat", "statuses": {"DELIVRD": "DELIVERED"}}}
	}`), 0o600))
	return desc, outbox
}

// TestSMSAccountOperations runs the boto3 script of the account, sandbox,
// verified destination numbers, resource policies, UpdateSenderId,
// feedback, CarrierLookup and protect configurations, and the same
// operations' main paths through the AWS CLI, against a server whose
// carrier is a fake HTTP gateway (the verification codes are read from
// what it was given).
func TestSMSAccountOperations(t *testing.T) {
	t.Parallel()
	desc, outbox := smsOutboxGateway(t)
	s := startServer(t, serverOpts{Env: []string{"TIDINGS_SMS_HTTP_PROVIDER=" + desc}})
	env := append(s.clientEnv("", ""), "TIDINGS_E2E_ACCOUNT_ID="+s.Account, "TIDINGS_E2E_SMS_OUTBOX="+outbox)
	t.Run("Boto3", func(t *testing.T) {
		runChecks(t, env, 7, pythonBin, scriptPath("e2e", "py", "sms_account.py"))
	})
	t.Run("CLI", func(t *testing.T) {
		const dest = "+12065550177"
		cli := func(out any, args ...string) {
			t.Helper()
			cliJSON(t, env, out, append([]string{"pinpoint-sms-voice-v2"}, args...)...)
		}
		var limits struct {
			AccountLimits []struct {
				Name      string
				Used, Max int64
			}
		}
		cli(&limits, "describe-account-limits")
		require.Len(t, limits.AccountLimits, 8)
		var attrs struct {
			AccountAttributes []struct{ Name, Value string }
		}
		cli(&attrs, "describe-account-attributes")
		require.Equal(t, "ACCOUNT_TIER", attrs.AccountAttributes[0].Name)

		var n struct{ PhoneNumberId, PhoneNumber string }
		cli(&n, "request-phone-number", "--iso-country-code", "US", "--message-type", "TRANSACTIONAL",
			"--number-capabilities", "SMS", "--number-type", "LONG_CODE")
		var v struct{ VerifiedDestinationNumberId, Status string }
		cli(&v, "create-verified-destination-number", "--destination-phone-number", dest)
		require.Equal(t, "PENDING", v.Status)
		var sent struct{ MessageId string }
		cli(&sent, "send-destination-number-verification-code", "--verified-destination-number-id", v.VerifiedDestinationNumberId,
			"--verification-channel", "TEXT", "--origination-identity", n.PhoneNumberId)
		var code string
		deadline := time.Now().Add(30 * time.Second)
		re := regexp.MustCompile(`code is (\d{6})`)
		for code == "" {
			require.True(t, time.Now().Before(deadline), "the gateway got no code; server log:\n%s", s.Log())
			b, _ := os.ReadFile(outbox)
			for _, line := range strings.Split(string(b), "\n") {
				var m map[string]string
				if json.Unmarshal([]byte(line), &m) == nil && m["ref"] == sent.MessageId {
					require.Equal(t, dest, m["dst"])
					require.Equal(t, n.PhoneNumber, m["src"])
					code = re.FindStringSubmatch(m["text"])[1]
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		_, errOut, rc := run(t, env, nil, awsBin, "pinpoint-sms-voice-v2", "verify-destination-number",
			"--verified-destination-number-id", v.VerifiedDestinationNumberId, "--verification-code", "ABC123")
		require.NotEqual(t, 0, rc)
		require.Contains(t, errOut, "ValidationException")
		cli(&v, "verify-destination-number", "--verified-destination-number-id", v.VerifiedDestinationNumberId, "--verification-code", code)
		require.Equal(t, "VERIFIED", v.Status)
		var list struct{ VerifiedDestinationNumbers []struct{ Status string } }
		cli(&list, "describe-verified-destination-numbers", "--destination-phone-numbers", dest)
		require.Equal(t, "VERIFIED", list.VerifiedDestinationNumbers[0].Status)
		cli(&v, "delete-verified-destination-number", "--verified-destination-number-id", v.VerifiedDestinationNumberId)

		var look struct{ E164PhoneNumber, PhoneNumberType, IsoCountryCode string }
		cli(&look, "carrier-lookup", "--phone-number", "+447400123456")
		require.Equal(t, "MOBILE", look.PhoneNumberType)
		require.Equal(t, "GB", look.IsoCountryCode)

		var p struct{ ProtectConfigurationId string }
		cli(&p, "create-protect-configuration")
		var rs struct {
			CountryRuleSet map[string]struct{ ProtectStatus string }
		}
		cli(&rs, "update-protect-configuration-country-rule-set", "--protect-configuration-id", p.ProtectConfigurationId,
			"--number-capability", "SMS", "--country-rule-set-updates", `{"US":{"ProtectStatus":"BLOCK"}}`)
		require.Equal(t, "BLOCK", rs.CountryRuleSet["US"].ProtectStatus)
		_, errOut, rc = run(t, env, nil, awsBin, "pinpoint-sms-voice-v2", "send-text-message", "--destination-phone-number", "+12065550123",
			"--origination-identity", n.PhoneNumberId, "--message-body", "x", "--protect-configuration-id", p.ProtectConfigurationId)
		require.NotEqual(t, 0, rc)
		require.Contains(t, errOut, "ConflictException")
		require.Contains(t, errOut, "blocks SMS messages to US")
		var pol struct{ Policy string }
		var num struct{ PhoneNumberArn string }
		cli(&num, "update-phone-number", "--phone-number-id", n.PhoneNumberId)
		cli(&pol, "put-resource-policy", "--resource-arn", num.PhoneNumberArn, "--policy", `{"Version":"2012-10-17","Statement":[]}`)
		cli(&pol, "get-resource-policy", "--resource-arn", num.PhoneNumberArn)
		require.JSONEq(t, `{"Version":"2012-10-17","Statement":[]}`, pol.Policy)
	})
}

// TestSMSAccountOperationsPostgres runs the boto3 script on a server over
// PostgreSQL.
func TestSMSAccountOperationsPostgres(t *testing.T) {
	t.Parallel()
	desc, outbox := smsOutboxGateway(t)
	s := startServer(t, serverOpts{DatabaseURL: freshDatabase(t), Env: []string{"TIDINGS_SMS_HTTP_PROVIDER=" + desc}})
	env := append(s.clientEnv("", ""), "TIDINGS_E2E_ACCOUNT_ID="+s.Account, "TIDINGS_E2E_SMS_OUTBOX="+outbox)
	runChecks(t, env, 7, pythonBin, scriptPath("e2e", "py", "sms_account.py"))
}
