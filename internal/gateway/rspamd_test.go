package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/gateway"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
	"github.com/tidings/tidings/internal/rspamd"
)

// gtube is the Generic Test for Unsolicited Bulk Email: rspamd answers
// "reject" for any message that holds it.
const gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

// fakeRspamd speaks rspamd's /checkv2 as the real worker does: "reject"
// with the GTUBE symbol for a GTUBE message, "no action" otherwise, or
// HTTP 500 while down.
type fakeRspamd struct {
	mu    sync.Mutex
	down  bool
	calls []http.Header
}

func (f *fakeRspamd) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.calls = append(f.calls, r.Header.Clone())
	down := f.down
	f.mu.Unlock()
	if down || r.URL.Path != "/checkv2" {
		http.Error(w, "worker failed", http.StatusInternalServerError)
		return
	}
	if strings.Contains(string(body), gtube) {
		io.WriteString(w, `{"is_skipped":true,"score":15.0,"required_score":15.0,"action":"reject","symbols":{"GTUBE":{"name":"GTUBE","score":0.0,"metric_score":0.0}},"messages":{"smtp_message":"Gtube pattern"},"message-id":"undef"}`)
		return
	}
	io.WriteString(w, `{"is_skipped":false,"score":0.9,"required_score":15.0,"action":"no action","symbols":{"ARC_NA":{"name":"ARC_NA","score":0.0,"metric_score":0.0}},"messages":{}}`)
}

func (f *fakeRspamd) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

func (f *fakeRspamd) requests() []http.Header {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]http.Header(nil), f.calls...)
}

func setupRspamd(t *testing.T) (*bundle, *fakeRspamd, string) {
	f := &fakeRspamd{}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	b := setup(t, setupOpts{rspamd: rspamd.New(srv.URL, 5*time.Second)})
	sub, err := b.mail.CreateAddonSubscription(b.ctx, &mm.CreateAddonSubscriptionRequest{AddonName: ptr("RSPAMD")})
	require.NoError(t, err)
	inst, err := b.mail.CreateAddonInstance(b.ctx, &mm.CreateAddonInstanceRequest{AddonSubscriptionId: sub.AddonSubscriptionId})
	require.NoError(t, err)
	got, err := b.mail.GetAddonInstance(b.ctx, &mm.GetAddonInstanceRequest{AddonInstanceId: inst.AddonInstanceId})
	require.NoError(t, err)
	return b, f, *got.AddonInstanceArn
}

func ptr[T any](v T) *T { return &v }

func testMessage(subject, text string) string {
	return "From: alice@sender.test\r\nTo: bob@corp.test\r\nSubject: " + subject + "\r\n" +
		"Message-ID: <" + strings.ReplaceAll(subject, " ", "-") + "@sender.test>\r\n\r\n" + text + "\r\n"
}

// TestRspamdTrafficPolicy: a policy that denies what rspamd rejects answers
// 550 5.7.1 at the end of DATA, before any 250, for a GTUBE message; a
// clean one is accepted and relayed; while rspamd is down the DENY
// statement does not hold and mail flows (with a warning).
func TestRspamdTrafficPolicy(t *testing.T) {
	t.Parallel()
	b, f, addon := setupRspamd(t)
	policy := b.trafficPolicy(fmt.Sprintf(`{"TrafficPolicyName":"no-spam","DefaultAction":"ALLOW","PolicyStatements":[
		{"Action":"DENY","Conditions":[{"StringExpression":{"Evaluate":{"Analysis":{"Analyzer":%q,"ResultField":"action"}},"Operator":"EQUALS","Values":["reject"]}}]}]}`, addon))
	relay := b.relay("onprem", b.sink)
	rs := b.ruleSet("relay", fmt.Sprintf(`[{"Actions":[{"Relay":{"Relay":%q,"MailFrom":"PRESERVE"}}]}]`, relay))
	_, addr := b.ingressPoint("mx", "OPEN", rs, policy, "")

	_, err := send(t, addr, "alice@sender.test", []string{"bob@corp.test", "carol@corp.test"}, testMessage("win big", gtube))
	require.Error(t, err)
	require.Equal(t, 550, smtpCode(err), "%v", err)
	require.Contains(t, err.Error(), "Rejected by policy")
	calls := f.requests()
	require.Len(t, calls, 1, "one check for both recipients")
	require.Equal(t, "127.0.0.1", calls[0].Get("IP"))
	require.Equal(t, "client.sender.test", calls[0].Get("Helo"))
	require.Equal(t, "alice@sender.test", calls[0].Get("From"))
	require.Equal(t, []string{"bob@corp.test", "carol@corp.test"}, calls[0].Values("Rcpt"))
	require.True(t, gateway.ValidQueueID(calls[0].Get("Queue-Id")), calls[0].Get("Queue-Id"))
	_, err = b.gw.Queue().Show(b.ctx, calls[0].Get("Queue-Id"))
	require.Error(t, err, "a denied message is not queued")

	qid, err := send(t, addr, "alice@sender.test", []string{"bob@corp.test"}, testMessage("lunch", "Shall we have lunch?"))
	require.NoError(t, err)
	require.Len(t, f.requests(), 2)
	got := b.sink.wait(t, 1)
	require.Contains(t, string(got[0].data), "Shall we have lunch?")
	b.waitState(qid, gateway.Done)

	// rspamd down: the DENY statement cannot hold; the message passes.
	f.setDown(true)
	qid, err = send(t, addr, "alice@sender.test", []string{"bob@corp.test"}, testMessage("win more", gtube))
	require.NoError(t, err)
	b.sink.wait(t, 2)
	b.waitState(qid, gateway.Done)
}

// TestRspamdTrafficPolicyFailsClosed: ALLOW statements on the add-on and a
// default DENY refuse spam for good (550) and, while rspamd is down,
// refuse with 451 so that nothing is lost.
func TestRspamdTrafficPolicyFailsClosed(t *testing.T) {
	t.Parallel()
	b, f, addon := setupRspamd(t)
	policy := b.trafficPolicy(fmt.Sprintf(`{"TrafficPolicyName":"only-ham","DefaultAction":"DENY","PolicyStatements":[
		{"Action":"ALLOW","Conditions":[{"BooleanExpression":{"Evaluate":{"Analysis":{"Analyzer":%q,"ResultField":"is_spam"}},"Operator":"IS_FALSE"}}]}]}`, addon))
	relay := b.relay("onprem", b.sink)
	rs := b.ruleSet("relay", fmt.Sprintf(`[{"Actions":[{"Relay":{"Relay":%q,"MailFrom":"PRESERVE"}}]}]`, relay))
	_, addr := b.ingressPoint("mx", "OPEN", rs, policy, "")

	_, err := send(t, addr, "alice@sender.test", []string{"bob@corp.test"}, testMessage("spam", gtube))
	require.Equal(t, 550, smtpCode(err), "%v", err)
	_, err = send(t, addr, "alice@sender.test", []string{"bob@corp.test"}, testMessage("ham", "hello"))
	require.NoError(t, err)
	b.sink.wait(t, 1)

	f.setDown(true)
	_, err = send(t, addr, "alice@sender.test", []string{"bob@corp.test"}, testMessage("ham again", "hello"))
	require.Equal(t, 451, smtpCode(err), "%v", err)
	f.setDown(false)
	_, err = send(t, addr, "alice@sender.test", []string{"bob@corp.test"}, testMessage("ham again", "hello"))
	require.NoError(t, err)
	b.sink.wait(t, 2)
}

// TestRspamdPolicyPerRecipient: a DENY statement on one recipient and the
// add-on refuses that recipient only; the message goes to the others.
func TestRspamdPolicyPerRecipient(t *testing.T) {
	t.Parallel()
	b, _, addon := setupRspamd(t)
	policy := b.trafficPolicy(fmt.Sprintf(`{"TrafficPolicyName":"strict-ceo","DefaultAction":"ALLOW","PolicyStatements":[
		{"Action":"DENY","Conditions":[
			{"StringExpression":{"Evaluate":{"Attribute":"RECIPIENT"},"Operator":"EQUALS","Values":["ceo@corp.test"]}},
			{"BooleanExpression":{"Evaluate":{"Analysis":{"Analyzer":%q,"ResultField":"is_spam"}},"Operator":"IS_TRUE"}}]}]}`, addon))
	relay := b.relay("onprem", b.sink)
	rs := b.ruleSet("relay", fmt.Sprintf(`[{"Actions":[{"Relay":{"Relay":%q,"MailFrom":"PRESERVE"}}]}]`, relay))
	_, addr := b.ingressPoint("mx", "OPEN", rs, policy, "")

	qid, err := send(t, addr, "alice@sender.test", []string{"ceo@corp.test", "bob@corp.test"}, testMessage("spam", gtube))
	require.NoError(t, err)
	got := b.sink.wait(t, 1)
	require.Equal(t, []string{"bob@corp.test"}, got[0].to)
	d := b.waitState(qid, gateway.Done)
	require.Equal(t, []string{"bob@corp.test"}, d.Envelope.Recipients)

	_, err = send(t, addr, "alice@sender.test", []string{"ceo@corp.test"}, testMessage("spam", gtube))
	require.Equal(t, 550, smtpCode(err), "%v", err)
}

// TestRspamdRules: rule conditions on the add-on's verdict and symbols; a
// failed check is PROCESSING_FAILED.
func TestRspamdRules(t *testing.T) {
	t.Parallel()
	b, f, addon := setupRspamd(t)
	relay := b.relay("onprem", b.sink)
	rs := b.ruleSet("filter", fmt.Sprintf(`[
		{"Name":"tag-spam","Conditions":[{"VerdictExpression":{"Evaluate":{"Analysis":{"Analyzer":%[1]q,"ResultField":"verdict"}},"Operator":"EQUALS","Values":["FAIL"]}}],
		 "Actions":[{"AddHeader":{"HeaderName":"X-Spam","HeaderValue":"yes"}}]},
		{"Name":"tag-unchecked","Conditions":[{"VerdictExpression":{"Evaluate":{"Analysis":{"Analyzer":%[1]q,"ResultField":"verdict"}},"Operator":"EQUALS","Values":["PROCESSING_FAILED"]}}],
		 "Actions":[{"AddHeader":{"HeaderName":"X-Spam-Check","HeaderValue":"failed"}}]},
		{"Name":"drop-gtube-for-ceo","Conditions":[
			{"StringExpression":{"Evaluate":{"Attribute":"RECIPIENT"},"Operator":"EQUALS","Values":["ceo@corp.test"]}},
			{"StringExpression":{"Evaluate":{"Analysis":{"Analyzer":%[1]q,"ResultField":"symbols"}},"Operator":"CONTAINS","Values":["GTUBE"]}}],
		 "Actions":[{"Drop":{}}]},
		{"Name":"relay","Actions":[{"Relay":{"Relay":%[2]q,"MailFrom":"PRESERVE"}}]}]`, addon, relay))
	_, addr := b.ingressPoint("mx", "OPEN", rs, b.allowAll(), "")

	_, err := send(t, addr, "alice@sender.test", []string{"ceo@corp.test", "bob@corp.test"}, testMessage("spam", gtube))
	require.NoError(t, err)
	got := b.sink.wait(t, 1)
	require.Equal(t, []string{"bob@corp.test"}, got[0].to)
	require.Equal(t, []string{"yes"}, headerValues(got[0].data, "X-Spam"))
	require.Len(t, f.requests(), 1, "one check for every condition and recipient")

	_, err = send(t, addr, "alice@sender.test", []string{"ceo@corp.test"}, testMessage("ham", "hello"))
	require.NoError(t, err)
	got = b.sink.wait(t, 2)
	require.Equal(t, []string{"ceo@corp.test"}, got[1].to)
	require.Empty(t, headerValues(got[1].data, "X-Spam"))
	require.Empty(t, headerValues(got[1].data, "X-Spam-Check"))

	f.setDown(true)
	_, err = send(t, addr, "alice@sender.test", []string{"ceo@corp.test"}, testMessage("unchecked", gtube))
	require.NoError(t, err)
	got = b.sink.wait(t, 3)
	require.Equal(t, []string{"ceo@corp.test"}, got[2].to, "the check failed: no Drop")
	require.Equal(t, []string{"failed"}, headerValues(got[2].data, "X-Spam-Check"))
	require.Empty(t, headerValues(got[2].data, "X-Spam"))
}
