package e2e

import (
	"encoding/base64"
	"encoding/json"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestGatewayStandIns drives what stands in for the AWS services Mail
// Manager resources name, as an operator would: secrets with `tidings
// secrets` (a relay authenticating to the organisation's server with
// them, an AUTH ingress point checking swaks' password against one),
// functions with `tidings functions` (InvokeLambda, both invocation
// types, to an HTTP receiver) and mailboxes with `tidings mailboxes`
// (DeliverToMailbox over LMTP to the sink in LMTP mode).
func TestGatewayStandIns(t *testing.T) {
	t.Parallel()
	sink, caFile := startGatewaySinkAuth(t, "relayuser", "relay-Secret-1")
	// TIDINGS_RETRY_FIRST: a REQUEST_RESPONSE invocation that failed for
	// a while is tried again after 1s, then 2s.
	s := startServer(t, serverOpts{Env: []string{"TIDINGS_RELAY_CA=" + caFile, "TIDINGS_RETRY_FIRST=1s"}})
	// /sync-fails cannot succeed (HTTP 400); /sync-flaky fails twice in
	// ways that may pass, then answers.
	rc := startReceiver(t, map[string][]int{"/sync-fails": {400}, "/sync-flaky": {503, 429, 200}})
	lmtp := startLMTPSink(t)
	arn := func(out string) string {
		t.Helper()
		a := strings.TrimSpace(out)
		if !strings.HasPrefix(a, "arn:aws:") {
			t.Fatalf("put printed %q, want an ARN", out)
		}
		return a
	}

	// Secrets: the ARN Mail Manager takes; the value never comes back.
	relaySecret := arn(s.tidings(t, "secrets", "put", "relay/corp", "--username", "relayuser", "--password", "relay-Secret-1"))
	if relaySecret != "arn:aws:secretsmanager:"+region+":"+s.Account+":secret:relay/corp" {
		t.Errorf("secret ARN %s", relaySecret)
	}
	ingressSecret := arn(s.tidings(t, "secrets", "put", "ingress-pw", "--value", `{"password":"Ingress-Pass-123"}`))
	if list := s.tidings(t, "secrets", "list"); !strings.Contains(list, "relay/corp") || !strings.Contains(list, "password,username") ||
		strings.Contains(list, "relay-Secret-1") || strings.Contains(list, "Ingress-Pass-123") {
		t.Errorf("secrets list:\n%s", list)
	}
	fnEvent := arn(s.tidings(t, "functions", "put", "on-mail", "--url", rc.url+"/event", "--secret", webhookSecret))
	fnSync := arn(s.tidings(t, "functions", "put", "classify", "--url", rc.url+"/sync", "--secret", webhookSecret))
	fnFails := arn(s.tidings(t, "functions", "put", "broken", "--url", rc.url+"/sync-fails"))
	fnFlaky := arn(s.tidings(t, "functions", "put", "flaky", "--url", rc.url+"/sync-flaky"))
	box := arn(s.tidings(t, "mailboxes", "put", "corp-box", "--lmtp", lmtp.Addr))
	if out := s.tidings(t, "mailboxes", "list"); !strings.Contains(out, "lmtp:"+lmtp.Addr) {
		t.Errorf("mailboxes list:\n%s", out)
	}

	// References to nothing are ValidationExceptions naming the ARN.
	missing := "arn:aws:secretsmanager:" + region + ":" + s.Account + ":secret:nope"
	if msg := s.AWSFail(t, "ValidationException", "mailmanager", "create-relay", "--relay-name", "bad",
		"--server-name", "127.0.0.1", "--server-port", sink.Port, "--authentication", "SecretArn="+missing); !strings.Contains(msg, missing) {
		t.Errorf("create-relay with an unknown secret: %s", msg)
	}
	missingFn := "arn:aws:lambda:" + region + ":" + s.Account + ":function:nope"
	if msg := s.AWSFail(t, "ValidationException", "mailmanager", "create-rule-set", "--rule-set-name", "bad",
		"--rules", jsonArg([]any{map[string]any{"Name": "r", "Actions": []any{map[string]any{"InvokeLambda": map[string]any{
			"FunctionArn": missingFn, "InvocationType": "EVENT", "RoleArn": "arn:aws:iam::" + s.Account + ":role/x"}}}}})); !strings.Contains(msg, missingFn) {
		t.Errorf("create-rule-set with an unknown function: %s", msg)
	}

	relayID := str(t, s.AWS(t, "mailmanager", "create-relay", "--relay-name", "corp-auth",
		"--server-name", "127.0.0.1", "--server-port", sink.Port, "--authentication", "SecretArn="+relaySecret), "RelayId")
	role := "arn:aws:iam::" + s.Account + ":role/mail"
	to := func(domain string) []any {
		return []any{map[string]any{"StringExpression": map[string]any{
			"Evaluate": map[string]any{"Attribute": "RECIPIENT"}, "Operator": "ENDS_WITH", "Values": []any{"@" + domain}}}}
	}
	rs := str(t, s.AWS(t, "mailmanager", "create-rule-set", "--rule-set-name", "standins",
		"--rules", jsonArg([]any{
			map[string]any{"Name": "relay", "Conditions": to("relay.test"),
				"Actions": []any{map[string]any{"Relay": map[string]any{"Relay": relayID}}}},
			map[string]any{"Name": "event", "Conditions": to("event.test"),
				"Actions": []any{map[string]any{"InvokeLambda": map[string]any{"FunctionArn": fnEvent, "InvocationType": "EVENT", "RetryTimeMinutes": 5, "RoleArn": role}}}},
			map[string]any{"Name": "sync", "Conditions": to("sync.test"),
				"Actions": []any{
					map[string]any{"InvokeLambda": map[string]any{"FunctionArn": fnSync, "InvocationType": "REQUEST_RESPONSE", "RoleArn": role}},
					map[string]any{"InvokeLambda": map[string]any{"FunctionArn": fnFails, "InvocationType": "REQUEST_RESPONSE", "RoleArn": role, "ActionFailurePolicy": "DROP"}},
					// Dropped with the failure above: never relayed.
					map[string]any{"Relay": map[string]any{"Relay": relayID}},
				}},
			map[string]any{"Name": "flaky", "Conditions": to("flaky.test"),
				"Actions": []any{
					// Retried for up to 36 hours (the model's largest).
					map[string]any{"InvokeLambda": map[string]any{"FunctionArn": fnFlaky, "InvocationType": "REQUEST_RESPONSE", "RetryTimeMinutes": 2160, "RoleArn": role}},
					map[string]any{"Relay": map[string]any{"Relay": relayID}},
				}},
			map[string]any{"Name": "mailbox", "Conditions": to("box.test"),
				"Actions": []any{map[string]any{"DeliverToMailbox": map[string]any{"MailboxArn": box, "RoleArn": role}}}},
		})), "RuleSetId")
	tp := str(t, s.AWS(t, "mailmanager", "create-traffic-policy", "--traffic-policy-name", "all",
		"--default-action", "ALLOW", "--policy-statements", jsonArg([]any{map[string]any{"Action": "DENY",
			"Conditions": []any{map[string]any{"StringExpression": map[string]any{
				"Evaluate": map[string]any{"Attribute": "RECIPIENT"}, "Operator": "ENDS_WITH", "Values": []any{"@blocked.test"}}}}}})), "TrafficPolicyId")
	open := &gatewayFixture{s: s, ingressID: str(t, s.AWS(t, "mailmanager", "create-ingress-point", "--ingress-point-name", "open",
		"--type", "OPEN", "--rule-set-id", rs, "--traffic-policy-id", tp), "IngressPointId")}
	openAddr := open.waitListening(t)
	host, port, _ := net.SplitHostPort(openAddr)
	send := func(t *testing.T, rcpt, token string, extra ...string) string {
		t.Helper()
		out, code := swaks(t, append([]string{"--server", host, "--port", port, "--from", "alice@sender.test", "--to", rcpt,
			"--header", "Subject: " + token, "--body", "body of " + token}, extra...)...)
		if code != 0 {
			t.Fatalf("swaks exit %d:\n%s", code, out)
		}
		return out
	}

	t.Run("RelayAuthFromSecret", func(t *testing.T) {
		token := "relay-" + randomSuffix()
		send(t, "bob@relay.test", token)
		m := waitFor(t, sink, token, 1)[0]
		if m.AuthUser != "relayuser" {
			t.Errorf("the sink saw AUTH as %q, want relayuser", m.AuthUser)
		}
		// A new value applies to the next delivery: a wrong password is
		// deferred (4.7.0, the operator's to fix), then fixed.
		s.tidings(t, "secrets", "put", "relay/corp", "--username", "relayuser", "--password", "wrong-password")
		token2 := "relay2-" + randomSuffix()
		send(t, "bob@relay.test", token2)
		waitLog(t, s, regexp.MustCompile(`rcpt=bob@relay.test state=DEFERRED[^\n]*535`))
		if got := sink.Containing(token2); len(got) != 0 {
			t.Fatalf("delivered with the wrong password")
		}
		s.tidings(t, "secrets", "put", "relay/corp", "--username", "relayuser", "--password", "relay-Secret-1")
	})

	t.Run("AuthIngressFromSecret", func(t *testing.T) {
		auth := &gatewayFixture{s: s, ingressID: str(t, s.AWS(t, "mailmanager", "create-ingress-point", "--ingress-point-name", "submit",
			"--type", "AUTH", "--rule-set-id", rs, "--traffic-policy-id", tp,
			"--ingress-point-configuration", "SecretArn="+ingressSecret), "IngressPointId")}
		h, p, _ := net.SplitHostPort(auth.waitListening(t))
		token := "auth-" + randomSuffix()
		out, code := swaks(t, "--server", h, "--port", p, "--tls", "--auth", "PLAIN", "--auth-user", "app",
			"--auth-password", "Ingress-Pass-123", "--from", "app@sender.test", "--to", "bob@relay.test",
			"--header", "Subject: "+token, "--body", "authenticated")
		if code != 0 || !strings.Contains(out, "<~  235") {
			t.Fatalf("swaks with the secret's password: exit %d\n%s", code, out)
		}
		waitFor(t, sink, token, 1)
		out, code = swaks(t, "--server", h, "--port", p, "--tls", "--auth", "PLAIN", "--auth-user", "app",
			"--auth-password", "not-the-password", "--from", "app@sender.test", "--to", "bob@relay.test")
		if code == 0 || !strings.Contains(out, "<~* 535") {
			t.Errorf("swaks with a wrong password: exit %d\n%s", code, out)
		}
		if msg := s.AWSFail(t, "ValidationException", "mailmanager", "create-ingress-point", "--ingress-point-name", "bad",
			"--type", "AUTH", "--rule-set-id", rs, "--traffic-policy-id", tp,
			"--ingress-point-configuration", "SecretArn="+missing); !strings.Contains(msg, missing) {
			t.Errorf("create-ingress-point with an unknown secret: %s", msg)
		}
	})

	t.Run("InvokeLambdaEvent", func(t *testing.T) {
		rc.setScript("/event", 503, 200) // the first attempt fails: retried
		token := "event-" + randomSuffix()
		send(t, "ops@event.test", token)
		first := rc.wait(t, "/event")
		again := rc.wait(t, "/event")
		if !first.sigOK || !again.sigOK {
			t.Errorf("invocations not signed with the function's secret")
		}
		if string(first.body) != string(again.body) {
			t.Errorf("the retry posted another body")
		}
		ev := decodeLambdaEvent(t, again.body)
		if ev.mail.Source != "alice@sender.test" || strings.Join(ev.mail.Destination, ",") != "ops@event.test" {
			t.Errorf("event mail: %+v", ev.mail)
		}
		if ev.action["functionArn"] != fnEvent || ev.action["invocationType"] != "EVENT" {
			t.Errorf("event action: %v", ev.action)
		}
		if !strings.Contains(ev.content, "Subject: "+token) || !strings.Contains(ev.content, "body of "+token) {
			t.Errorf("event content: %q", ev.content)
		}
	})

	t.Run("InvokeLambdaRequestResponse", func(t *testing.T) {
		token := "sync-" + randomSuffix()
		send(t, "ops@sync.test", token)
		h := rc.wait(t, "/sync")
		ev := decodeLambdaEvent(t, h.body)
		if ev.action["invocationType"] != "REQUEST_RESPONSE" || !strings.Contains(ev.content, token) {
			t.Errorf("sync event: %v %q", ev.action, ev.content)
		}
		rc.wait(t, "/sync-fails")
		// The failing function's step failed, and DROP dropped the
		// recipient: the Relay after it is skipped.
		waitLog(t, s, regexp.MustCompile(`action=InvokeLambda state=FAILED[^\n]*HTTP 400`))
		waitLog(t, s, regexp.MustCompile(`action=Relay state=SKIPPED`))
		if len(sink.Containing(token)) != 0 {
			t.Errorf("relayed although an earlier action failed with DROP")
		}
	})

	t.Run("InvokeLambdaRequestResponseRetried", func(t *testing.T) {
		token := "flaky-" + randomSuffix()
		send(t, "ops@flaky.test", token)
		for range 3 {
			rc.wait(t, "/sync-flaky")
		}
		// Pending while it failed (the Relay after it waiting), then done,
		// and the message relayed.
		waitLog(t, s, regexp.MustCompile(`action=InvokeLambda state=PENDING[^\n]*HTTP 429`))
		waitLog(t, s, regexp.MustCompile(`rule=flaky action=InvokeLambda state=DONE`))
		waitFor(t, sink, token, 1)
	})

	t.Run("DeliverToMailboxLMTP", func(t *testing.T) {
		token := "box-" + randomSuffix()
		send(t, "carol@box.test", token)
		m := waitFor(t, lmtp, token, 1)[0]
		if m.From != "alice@sender.test" || strings.Join(m.To, ",") != "carol@box.test" {
			t.Errorf("LMTP envelope: %q %v", m.From, m.To)
		}
		waitLog(t, s, regexp.MustCompile(`action=DeliverToMailbox state=DONE[^\n]*carol@box.test[^\n]*250`))
	})

	t.Run("Delete", func(t *testing.T) {
		s.tidings(t, "functions", "delete", "broken")
		if out, _, code := s.tidingsRun(t, "functions", "delete", "broken"); code == 0 {
			t.Errorf("deleting twice succeeded: %s", out)
		}
		if out := s.tidings(t, "functions", "list"); strings.Contains(out, "broken") {
			t.Errorf("functions list after delete:\n%s", out)
		}
	})
}

type lambdaEventView struct {
	mail struct {
		Source      string   `json:"source"`
		MessageID   string   `json:"messageId"`
		Destination []string `json:"destination"`
	}
	action  map[string]string
	content string
}

func decodeLambdaEvent(t *testing.T, body []byte) lambdaEventView {
	t.Helper()
	var ev struct {
		Records []struct {
			EventSource string `json:"eventSource"`
			SES         struct {
				Mail    json.RawMessage `json:"mail"`
				Receipt struct {
					Action map[string]string `json:"action"`
				} `json:"receipt"`
				Content string `json:"content"`
			} `json:"ses"`
		} `json:"Records"`
	}
	if err := json.Unmarshal(body, &ev); err != nil || len(ev.Records) != 1 || ev.Records[0].EventSource != "aws:ses" {
		t.Fatalf("not an SES Lambda event (%v): %s", err, body)
	}
	var out lambdaEventView
	r := ev.Records[0].SES
	if err := json.Unmarshal(r.Mail, &out.mail); err != nil || out.mail.MessageID == "" {
		t.Fatalf("event mail (%v): %s", err, r.Mail)
	}
	out.action = r.Receipt.Action
	c, err := base64.StdEncoding.DecodeString(r.Content)
	if err != nil {
		t.Fatalf("event content is not base64: %v", err)
	}
	out.content = string(c)
	return out
}

// waitLog waits up to a minute for the server's log to match re.
func waitLog(t *testing.T, s *Server, re *regexp.Regexp) {
	t.Helper()
	end := time.Now().Add(time.Minute)
	for !re.MatchString(s.Log()) {
		if time.Now().After(end) {
			t.Fatalf("the server log has nothing matching %s", re)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
