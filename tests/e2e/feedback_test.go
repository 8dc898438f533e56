package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// feedbackFixture is a sender set up as an SES user would: a verified
// domain with a custom MAIL FROM domain, a configuration set whose event
// destination is a topic with a webhook subscriber, and an ingress point
// (the MX of the MAIL FROM domain) where bounces and complaints arrive.
type feedbackFixture struct {
	s       *Server
	sink    *smtpSink
	z       *testDNS
	hooks   *receiver
	domain  string
	ingress string // host:port of the ingress point
}

func setupFeedback(t *testing.T, opts serverOpts, domain string, types ...string) *feedbackFixture {
	t.Helper()
	s, sink, z := startSendingServer(t, opts)
	f := &feedbackFixture{s: s, sink: sink, z: z, domain: domain, hooks: startReceiver(t, map[string][]int{})}
	verifyDomainByDNS(t, s, z, domain)
	mailFrom := "mail." + domain
	z.setMX(mailFrom, "mx."+domain)
	s.AWS(t, "sesv2", "put-email-identity-mail-from-attributes", "--email-identity", domain,
		"--mail-from-domain", mailFrom, "--behavior-on-mx-failure", "REJECT_MESSAGE")
	end := time.Now().Add(time.Minute)
	for at(s.AWS(t, "sesv2", "get-email-identity", "--email-identity", domain), "MailFromAttributes.MailFromDomainStatus") != "SUCCESS" {
		if time.Now().After(end) {
			t.Fatal("the MAIL FROM domain was not verified within a minute")
		}
		time.Sleep(500 * time.Millisecond)
	}

	topicARN := webhookTopic(t, s, "ses-events", f.hooks.url+"/ses")
	s.AWS(t, "sesv2", "create-configuration-set", "--configuration-set-name", "app")
	s.AWS(t, "sesv2", "create-configuration-set-event-destination", "--configuration-set-name", "app",
		"--event-destination-name", "to-topic", "--event-destination", jsonArg(map[string]any{
			"Enabled": true, "MatchingEventTypes": types,
			"SnsDestination": map[string]any{"TopicArn": topicARN},
		}))

	// The MX of the MAIL FROM domain: an open ingress point; its rule set
	// has no rule for bounces.
	tp := s.AWS(t, "mailmanager", "create-traffic-policy", "--traffic-policy-name", "mx-in", "--default-action", "ALLOW",
		"--policy-statements", jsonArg([]any{map[string]any{"Action": "ALLOW", "Conditions": []any{map[string]any{
			"StringExpression": map[string]any{"Evaluate": map[string]any{"Attribute": "RECIPIENT"}, "Operator": "ENDS_WITH", "Values": []any{"@" + mailFrom}}}}}}))
	rs := s.AWS(t, "mailmanager", "create-rule-set", "--rule-set-name", "mx-rules",
		"--rules", jsonArg([]any{map[string]any{"Name": "drop-the-rest", "Actions": []any{map[string]any{"Drop": map[string]any{}}}}}))
	gw := &gatewayFixture{s: s}
	gw.ingressID = str(t, s.AWS(t, "mailmanager", "create-ingress-point", "--ingress-point-name", "mail-from-mx", "--type", "OPEN",
		"--rule-set-id", str(t, rs, "RuleSetId"), "--traffic-policy-id", str(t, tp, "TrafficPolicyId")), "IngressPointId")
	f.ingress = gw.waitListening(t)
	return f
}

// webhookTopic creates a topic with `tidings topics` and subscribes the
// webhook url to it; it returns the topic's SNS ARN.
func webhookTopic(t *testing.T, s *Server, topic, url string) string {
	t.Helper()
	if out, errOut, code := run(t, s.clientEnv("", ""), nil, tidingsBin, "topics", "create", topic); code != 0 {
		t.Fatalf("tidings topics create: %s%s", out, errOut)
	}
	if out, errOut, code := run(t, s.clientEnv("", ""), nil, tidingsBin, "topics", "subscribe", topic, url, "--secret", webhookSecret); code != 0 {
		t.Fatalf("tidings topics subscribe: %s%s", out, errOut)
	}
	return "arn:aws:sns:" + region + ":" + s.Account + ":" + topic
}

// nextEvent returns the next SES event of that type at path of the
// webhook receiver, skipping others.
func nextEvent(t *testing.T, rc *receiver, path, typ string) map[string]any {
	t.Helper()
	return eventsOf(t, rc, path, typ)[typ]
}

// eventsOf waits for one SES event of each type at path of the webhook
// receiver, in whatever order they come (deliveries run concurrently),
// and returns them by type; others are skipped.
func eventsOf(t *testing.T, rc *receiver, path string, types ...string) map[string]map[string]any {
	t.Helper()
	got := map[string]map[string]any{}
	for len(got) < len(types) {
		h := rc.wait(t, path)
		if !h.sigOK {
			t.Errorf("webhook signature does not verify: %+v", h)
		}
		var ev map[string]any
		if err := json.Unmarshal(h.body, &ev); err != nil {
			t.Fatalf("event is not JSON: %v\n%s", err, h.body)
		}
		typ, _ := ev["eventType"].(string)
		if slices.Contains(types, typ) && got[typ] == nil {
			got[typ] = ev
		}
	}
	return got
}

// mailReport mails a report to the ingress point with swaks, from the
// null sender as MTAs send them (RFC 5321 4.5.5).
func (f *feedbackFixture) mailReport(t *testing.T, rcpt, report string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "report.eml")
	if err := os.WriteFile(file, []byte(report), 0o644); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(f.ingress, ":")
	out, code := swaks(t, "--server", host, "--port", port, "--from", "<>", "--to", rcpt, "--data", file)
	if code != 0 {
		t.Fatalf("swaks exit %d:\n%s", code, out)
	}
}

// waitEvent returns the next SES event of that type at the webhook.
func (f *feedbackFixture) waitEvent(t *testing.T, typ string) map[string]any {
	t.Helper()
	return nextEvent(t, f.hooks, "/ses", typ)
}

// suppressed reads an address of the suppression list with the AWS CLI.
func (f *feedbackFixture) suppressed(t *testing.T, addr string) map[string]any {
	t.Helper()
	return f.s.AWS(t, "sesv2", "get-suppressed-destination", "--email-address", addr)
}

const asyncDSN = `From: Mail Delivery System <MAILER-DAEMON@mx.dest.test>
To: {{RP}}
Subject: Undelivered Mail Returned to Sender
Date: Mon, 2 Jun 2025 10:00:00 +0000
Message-ID: <dsn-1@mx.dest.test>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="dsn-b"
Auto-Submitted: auto-replied

--dsn-b
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.dest.test.
I'm sorry to have to inform you that your message could not be delivered.

--dsn-b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.dest.test
Arrival-Date: Mon, 2 Jun 2025 09:59:58 +0000

Final-Recipient: rfc822; gone@dest.test
Original-Recipient: rfc822;gone@dest.test
Action: failed
Status: 5.1.1
Remote-MTA: dns; store.dest.test
Diagnostic-Code: smtp; 550 5.1.1 <gone@dest.test>: Recipient address rejected: User unknown in local recipient table

--dsn-b
Content-Type: text/rfc822-headers

From: app@{{DOMAIN}}
To: gone@dest.test, angry@dest.test
Subject: Your weekly digest
Message-ID: {{MID}}

--dsn-b--
`

const arfReport = `From: Feedback Loop <fbl@isp.test>
To: {{RP}}
Subject: Abuse report
Date: Mon, 2 Jun 2025 11:00:00 +0000
Message-ID: <arf-1@isp.test>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="arf-b"

--arf-b
Content-Type: text/plain; charset=us-ascii

This is an email abuse report for an email message received from IP 192.0.2.1.

--arf-b
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ISP-FBL/2.0
Version: 1
Original-Mail-From: <{{RP}}>
Original-Rcpt-To: <angry@dest.test>
Arrival-Date: Mon, 2 Jun 2025 10:30:00 +0000
Source-IP: 192.0.2.1
Reported-Domain: {{DOMAIN}}

--arf-b
Content-Type: message/rfc822

From: app@{{DOMAIN}}
To: angry@dest.test
Subject: Your weekly digest
Message-ID: {{MID}}

Hello.
--arf-b--
`

// TestFeedbackThroughGateway: a message sent with the AWS CLI goes out
// with a VERP return path on the custom MAIL FROM domain; an asynchronous
// DSN (RFC 3464) and an ARF complaint (RFC 5965) mailed to that return
// path at the ingress point with swaks become a Bounce and a Complaint
// event at the webhook subscriber of the configuration set's topic, and
// put the addresses on the suppression list; a later send to them is not
// delivered.
func TestFeedbackThroughGateway(t *testing.T) {
	t.Parallel()
	testFeedbackThroughGateway(t, serverOpts{})
}

func TestFeedbackThroughGatewayPostgres(t *testing.T) {
	t.Parallel()
	testFeedbackThroughGateway(t, serverOpts{DatabaseURL: freshDatabase(t)})
}

func testFeedbackThroughGateway(t *testing.T, opts serverOpts) {
	f := setupFeedback(t, opts, "news.example.test", "BOUNCE", "COMPLAINT")
	s := f.s
	id := str(t, s.AWS(t, "sesv2", "send-email", "--from-email-address", "app@"+f.domain,
		"--destination", `{"ToAddresses":["gone@dest.test","angry@dest.test"]}`,
		"--configuration-set-name", "app",
		"--content", `{"Simple":{"Subject":{"Data":"Your weekly digest"},"Body":{"Text":{"Data":"Hello."}}}}`), "MessageId")
	m := f.sink.waitFor(t, "sent", containing(id))
	rp := m.From
	if rp != "bounce-"+id+"@mail."+f.domain {
		t.Fatalf("return path %q, want the VERP address on the MAIL FROM domain", rp)
	}
	mid := header(m.Data, "Message-ID")
	fill := func(s string) string {
		return strings.NewReplacer("{{RP}}", rp, "{{DOMAIN}}", f.domain, "{{MID}}", mid, "\n", "\r\n").Replace(s)
	}

	f.mailReport(t, rp, fill(asyncDSN))
	ev := f.waitEvent(t, "Bounce")
	eqAt(t, ev, "mail.messageId", id)
	eqAt(t, ev, "bounce.bounceType", "Permanent")
	eqAt(t, ev, "bounce.bounceSubType", "NoEmail")
	eqAt(t, ev, "bounce.bouncedRecipients.0.emailAddress", "gone@dest.test")
	eqAt(t, ev, "bounce.bouncedRecipients.0.status", "5.1.1")
	eqAt(t, ev, "bounce.reportingMTA", "dns; mx.dest.test")
	if d, _ := at(ev, "bounce.bouncedRecipients.0.diagnosticCode").(string); !strings.Contains(d, "User unknown") {
		t.Errorf("diagnosticCode %q", d)
	}
	sp := f.suppressed(t, "gone@dest.test")
	eqAt(t, sp, "SuppressedDestination.Reason", "BOUNCE")
	eqAt(t, sp, "SuppressedDestination.Attributes.MessageId", id)

	f.mailReport(t, rp, fill(arfReport))
	ev = f.waitEvent(t, "Complaint")
	eqAt(t, ev, "mail.messageId", id)
	eqAt(t, ev, "complaint.complaintFeedbackType", "abuse")
	eqAt(t, ev, "complaint.userAgent", "ISP-FBL/2.0")
	eqAt(t, ev, "complaint.complainedRecipients.0.emailAddress", "angry@dest.test")
	eqAt(t, ev, "complaint.arrivalDate", "2025-06-02T10:30:00.000Z")
	eqAt(t, f.suppressed(t, "angry@dest.test"), "SuppressedDestination.Reason", "COMPLAINT")

	// Both addresses are suppressed now: a new send bounces at once.
	id2 := str(t, s.AWS(t, "sesv2", "send-email", "--from-email-address", "app@"+f.domain,
		"--destination", `{"ToAddresses":["gone@dest.test","angry@dest.test"]}`, "--configuration-set-name", "app",
		"--content", `{"Simple":{"Subject":{"Data":"again"},"Body":{"Text":{"Data":"Hello again."}}}}`), "MessageId")
	ev = f.waitEvent(t, "Bounce")
	eqAt(t, ev, "mail.messageId", id2)
	eqAt(t, ev, "bounce.bounceSubType", "OnAccountSuppressionList")
	if n := f.sink.count(containing(id2)); n != 0 {
		t.Errorf("a message to suppressed addresses was delivered")
	}
}
