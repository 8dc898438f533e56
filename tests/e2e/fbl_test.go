package e2e

import (
	"strings"
	"testing"
)

// yahooFBL is an abuse report as Yahoo's feedback loop sends it (ARF,
// RFC 5965), to the fixed address the sender registered — not to the
// return path of the message.
const yahooFBL = `Return-Path: <feedback@arf.mail.yahoo.test>
From: Yahoo! Mail AntiSpam Feedback <feedback@arf.mail.yahoo.test>
To: {{TO}}
Subject: FW: {{SUBJECT}}
Date: Tue, 24 Nov 2026 13:00:00 +0000
Message-ID: <fbl-{{N}}@arf.mail.yahoo.test>
MIME-Version: 1.0
Content-Type: multipart/report; boundary="----=_Part_1_2"; report-type=feedback-report

------=_Part_1_2
Content-Type: text/plain; charset=us-ascii

This is an email abuse report for an email message received from IP 203.0.113.25 on Tue, 24 Nov 2026 12:58:02 +0000.

------=_Part_1_2
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: Yahoo!-Mail-Feedback/2.0
Version: 0.1
Original-Rcpt-To: {{RCPT}}
Received-Date: Tue, 24 Nov 2026 12:58:02 +0000
Reported-Domain: {{DOMAIN}}

------=_Part_1_2
Content-Type: message/rfc822

{{ORIGINAL}}
Hello.

------=_Part_1_2--
`

// TestComplaintAtFeedbackLoopAddress: an SES user registered
// fbl@<domain> with a feedback loop, whose MX is a Tidings ingress point
// (its rule set drops everything). A message sent with the AWS CLI
// (sesv2 send-email) is reported by the feedback loop to that fixed
// address, the original carrying only the Message-ID Tidings gave it:
// a Complaint event about the message reaches the configuration set's
// webhook and the recipient is on the suppression list. A Raw message
// that brought its own Message-ID is attributed by the VERP Return-Path
// of the original; its reporter redacted the recipient, so every
// recipient of the message is complained about.
func TestComplaintAtFeedbackLoopAddress(t *testing.T) {
	t.Parallel()
	testComplaintAtFeedbackLoopAddress(t, serverOpts{})
}

func TestComplaintAtFeedbackLoopAddressPostgres(t *testing.T) {
	t.Parallel()
	testComplaintAtFeedbackLoopAddress(t, serverOpts{DatabaseURL: freshDatabase(t)})
}

func testComplaintAtFeedbackLoopAddress(t *testing.T, opts serverOpts) {
	f := setupFeedback(t, opts, "shop.example.test", "COMPLAINT")
	s := f.s
	fbl := "fbl@" + f.domain
	report := func(n, rcpt, original string) string {
		return strings.NewReplacer("{{TO}}", fbl, "{{SUBJECT}}", "Your order", "{{N}}", n, "{{RCPT}}", rcpt,
			"{{DOMAIN}}", f.domain, "{{ORIGINAL}}", original, "\n", "\r\n").Replace(yahooFBL)
	}

	// By Message-ID.
	id := str(t, s.AWS(t, "sesv2", "send-email", "--from-email-address", "orders@"+f.domain,
		"--destination", `{"ToAddresses":["reader@dest.test","partner@dest.test"]}`, "--configuration-set-name", "app",
		"--content", `{"Simple":{"Subject":{"Data":"Your order"},"Body":{"Text":{"Data":"Hello."}}}}`), "MessageId")
	m := f.sink.waitFor(t, "sent", containing(id))
	mid := header(m.Data, "Message-ID")
	if !strings.HasPrefix(mid, "<"+id+"@") {
		t.Fatalf("Message-ID %q does not carry the MessageId %s", mid, id)
	}
	original := "From: orders@" + f.domain + "\nTo: reader@dest.test, partner@dest.test\nSubject: Your order\nMessage-ID: " + mid + "\n"
	f.mailReport(t, fbl, report("1", "reader@dest.test", original))
	ev := f.waitEvent(t, "Complaint")
	eqAt(t, ev, "mail.messageId", id)
	eqAt(t, ev, "complaint.complaintFeedbackType", "abuse")
	eqAt(t, ev, "complaint.userAgent", "Yahoo!-Mail-Feedback/2.0")
	eqAt(t, ev, "complaint.complainedRecipients", []any{map[string]any{"emailAddress": "reader@dest.test"}})
	sp := f.suppressed(t, "reader@dest.test")
	eqAt(t, sp, "SuppressedDestination.Reason", "COMPLAINT")
	eqAt(t, sp, "SuppressedDestination.Attributes.MessageId", id)

	// By the VERP return path: a Raw message with its own Message-ID (the
	// CLI's blobs are raw-in-base64-out here).
	raw := "From: orders@" + f.domain + "\r\nTo: quiet@dest.test\r\nSubject: Receipt\r\nMessage-ID: <order-42@app.example.test>\r\n\r\nThanks.\r\n"
	rawID := str(t, s.AWS(t, "sesv2", "send-email", "--configuration-set-name", "app",
		"--content", jsonArg(map[string]any{"Raw": map[string]any{"Data": raw}})), "MessageId")
	m = f.sink.waitFor(t, "raw sent", containing("order-42@app.example.test"))
	if m.From != "bounce-"+rawID+"@mail."+f.domain {
		t.Fatalf("return path %q, want the VERP address of %s", m.From, rawID)
	}
	if got := header(m.Data, "Message-ID"); got != "<order-42@app.example.test>" {
		t.Fatalf("the Raw message's own Message-ID was not kept: %q", got)
	}
	original = "Return-Path: <" + m.From + ">\nFrom: orders@" + f.domain + "\nTo: redacted@dest.test\nSubject: Receipt\nMessage-ID: <order-42@app.example.test>\n"
	f.mailReport(t, fbl, report("2", "redacted@dest.test", original))
	ev = f.waitEvent(t, "Complaint")
	eqAt(t, ev, "mail.messageId", rawID)
	eqAt(t, ev, "complaint.complainedRecipients", []any{map[string]any{"emailAddress": "quiet@dest.test"}})
	eqAt(t, f.suppressed(t, "quiet@dest.test"), "SuppressedDestination.Reason", "COMPLAINT")

	// The partner did not complain.
	s.AWSFail(t, "NotFoundException", "sesv2", "get-suppressed-destination", "--email-address", "partner@dest.test")
}
