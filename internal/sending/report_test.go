package sending_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/model/sesv2"
	"github.com/tidings/tidings/internal/sending"
)

// dsnFor is an RFC 3464 report about rcpt (status, diagnostic) of the
// message with Message-ID msgID.
func dsnFor(rcpt, status, diag, msgID string) string {
	return strings.ReplaceAll(`From: MAILER-DAEMON@mx.dest.example
To: <bounce@x>
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Your message could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.dest.example
Arrival-Date: Mon, 2 Jun 2025 10:00:00 +0000

Final-Recipient: rfc822; `+rcpt+`
Action: failed
Status: `+status+`
Diagnostic-Code: smtp; `+diag+`

--B
Content-Type: text/rfc822-headers

Message-ID: <`+msgID+`>
Subject: Your code

--B--
`, "\n", "\r\n")
}

// arfFor is an ARF abuse report about the message to rcpt.
func arfFor(rcpt, msgID string) string {
	return strings.ReplaceAll(`From: fbl@isp.example
To: <bounce@x>
Subject: FW: Your code
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="F"

--F
Content-Type: text/plain

This is an email abuse report.

--F
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ISP-FBL/1.0
Version: 1
Original-Rcpt-To: `+rcpt+`
Arrival-Date: Mon, 2 Jun 2025 10:00:00 +0000

--F
Content-Type: message/rfc822

Message-ID: <`+msgID+`>
To: `+rcpt+`
Subject: Your code

body
--F--
`, "\n", "\r\n")
}

// TestHandleReport: a DSN and an ARF report mailed to the VERP return
// path of a message sent with a custom MAIL FROM domain become Bounce and
// Complaint events and suppress the addresses; reports naming another
// address, or not reports at all, are refused.
func TestHandleReport(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.svc.CreateEmailIdentity(b.ctx, &sesv2.CreateEmailIdentityRequest{EmailIdentity: ptr("example.com")})
	require.NoError(t, err)
	_, err = b.svc.PutEmailIdentityMailFromAttributes(b.ctx, &sesv2.PutEmailIdentityMailFromAttributesRequest{
		EmailIdentity: ptr("example.com"), MailFromDomain: ptr("bounce.example.com")})
	require.NoError(t, err)
	require.NoError(t, sending.MarkVerified(b.ctx, b.db.Sending(), acct, "example.com", time.Now()))
	b.configSetWithEvents(t, "fb")
	in := simple("a@example.com", "gone@dest.example", "full@dest.example", "angry@dest.example")
	in.ConfigurationSetName = ptr("fb")
	out, err := b.svc.SendEmail(b.ctx, in)
	require.NoError(t, err)
	id := *out.MessageId
	b.waitEvents(t, 2) // Send, Delivery
	b.dl.mu.Lock()
	rp := b.dl.envs[0].MailFrom
	b.dl.mu.Unlock()
	require.Equal(t, "bounce-"+id+"@bounce.example.com", rp)

	ok, err := b.svc.IsReturnPath(b.ctx, rp)
	require.NoError(t, err)
	require.True(t, ok)
	for _, a := range []string{"bounce-" + id + "@elsewhere.example", "bounce-0100aaaa@bounce.example.com", "someone@bounce.example.com"} {
		ok, err := b.svc.IsReturnPath(b.ctx, a)
		require.NoError(t, err)
		require.False(t, ok, a)
	}

	msgID := id + "@tidings.test"
	did, err := b.svc.HandleReport(b.ctx, rp, strings.NewReader(dsnFor("gone@dest.example", "5.1.1", "550 5.1.1 user unknown", msgID)))
	require.NoError(t, err)
	require.Contains(t, did, "Permanent/NoEmail")
	_, err = b.svc.HandleReport(b.ctx, rp, strings.NewReader(dsnFor("full@dest.example", "4.2.2", "452 4.2.2 mailbox full", msgID)))
	require.NoError(t, err)
	_, err = b.svc.HandleReport(b.ctx, rp, strings.NewReader(arfFor("angry@dest.example", msgID)))
	require.NoError(t, err)

	evs := b.waitEvents(t, 5)
	bo := byType(evs, "Bounce")
	require.Len(t, bo, 2)
	perm := bo[0]["bounce"].(map[string]any)
	require.Equal(t, "Permanent", perm["bounceType"])
	require.Equal(t, "NoEmail", perm["bounceSubType"])
	require.Equal(t, "dns; mx.dest.example", perm["reportingMTA"])
	r0 := perm["bouncedRecipients"].([]any)[0].(map[string]any)
	require.Equal(t, "gone@dest.example", r0["emailAddress"])
	require.Equal(t, "5.1.1", r0["status"])
	trans := bo[1]["bounce"].(map[string]any)
	require.Equal(t, "Transient", trans["bounceType"])
	require.Equal(t, "MailboxFull", trans["bounceSubType"])
	co := byType(evs, "Complaint")
	require.Len(t, co, 1)
	c := co[0]["complaint"].(map[string]any)
	require.Equal(t, "abuse", c["complaintFeedbackType"])
	require.Equal(t, "ISP-FBL/1.0", c["userAgent"])
	require.Equal(t, "angry@dest.example", c["complainedRecipients"].([]any)[0].(map[string]any)["emailAddress"])
	require.Equal(t, id, co[0]["mail"].(map[string]any)["messageId"])

	// GetSendStatistics: the recipients attempted at delivery, plus the
	// reported hard bounce and complaint (not the transient bounce). The
	// delivery's outcomes are recorded after its events are published.
	var counts [3]int64
	require.Eventually(t, func() bool {
		stats, err := b.svc.GetSendStatistics(b.ctx, nil)
		require.NoError(t, err)
		counts = [3]int64{}
		for _, p := range stats.SendDataPoints {
			counts[0], counts[1], counts[2] = counts[0]+*p.DeliveryAttempts, counts[1]+*p.Bounces, counts[2]+*p.Complaints
		}
		return counts == [3]int64{3, 1, 1}
	}, 10*time.Second, 20*time.Millisecond, "GetSendStatistics never counted 3 attempts, 1 bounce and 1 complaint")

	for addr, reason := range map[string]string{"gone@dest.example": "BOUNCE", "angry@dest.example": "COMPLAINT"} {
		sp, err := b.db.Sending().GetSuppressed(b.ctx, acct, addr)
		require.NoError(t, err, addr)
		require.Equal(t, reason, sp.Reason)
		require.Equal(t, id, sp.MessageID)
	}
	_, err = b.db.Sending().GetSuppressed(b.ctx, acct, "full@dest.example")
	require.True(t, fault.Is(err, fault.NotFound), "a soft bounce does not suppress: %v", err)

	// A report naming an address the message did not go to suppresses
	// nothing; a message that is no report is refused.
	_, err = b.svc.HandleReport(b.ctx, rp, strings.NewReader(dsnFor("victim@dest.example", "5.1.1", "550 5.1.1 user unknown", msgID)))
	require.True(t, fault.Is(err, fault.Invalid), "%v", err)
	_, err = b.db.Sending().GetSuppressed(b.ctx, acct, "victim@dest.example")
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
	_, err = b.svc.HandleReport(b.ctx, rp, strings.NewReader("Subject: hello\r\n\r\nhow are you\r\n"))
	require.True(t, fault.Is(err, fault.Invalid), "%v", err)
}

// TestComplaintAtFixedAddress: an ARF report mailed to a fixed
// feedback-loop address (not the return path) is attributed by the
// Message-ID Tidings gave the message, or, for a Raw message that brought
// its own Message-ID, by the VERP return path in the original's
// Return-Path; only messages of the ingress point's account count. It
// becomes a Complaint event and suppresses the complained address (all
// the recipients when the reporter redacted it).
func TestComplaintAtFixedAddress(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.svc.CreateEmailIdentity(b.ctx, &sesv2.CreateEmailIdentityRequest{EmailIdentity: ptr("example.com")})
	require.NoError(t, err)
	_, err = b.svc.PutEmailIdentityMailFromAttributes(b.ctx, &sesv2.PutEmailIdentityMailFromAttributesRequest{
		EmailIdentity: ptr("example.com"), MailFromDomain: ptr("bounce.example.com")})
	require.NoError(t, err)
	require.NoError(t, sending.MarkVerified(b.ctx, b.db.Sending(), acct, "example.com", time.Now()))
	b.configSetWithEvents(t, "fb")
	in := simple("a@example.com", "angry@dest.example", "calm@dest.example")
	in.ConfigurationSetName = ptr("fb")
	out, err := b.svc.SendEmail(b.ctx, in)
	require.NoError(t, err)
	id := *out.MessageId
	raw := "From: a@example.com\r\nTo: quiet@dest.example, other@dest.example\r\nSubject: raw\r\nMessage-ID: <own-1@app.example>\r\n\r\nhello\r\n"
	out, err = b.svc.SendEmail(b.ctx, &sesv2.SendEmailRequest{ConfigurationSetName: ptr("fb"), Content: &sesv2.EmailContent{Raw: &sesv2.RawMessage{Data: []byte(raw)}}})
	require.NoError(t, err)
	rawID := *out.MessageId
	b.waitEvents(t, 4) // Send and Delivery of each

	report := arfFor("angry@dest.example", id+"@tidings.test")
	got, err := b.svc.ComplaintAbout(b.ctx, acct, strings.NewReader(report))
	require.NoError(t, err)
	require.Equal(t, id, got)
	for _, c := range []struct{ acct, report string }{
		{"999999999999", report}, // another account's ingress point
		{acct, arfFor("angry@dest.example", "0100018c00000000-aaaa@tidings.test")}, // unknown message
		{acct, arfFor("angry@dest.example", "not-ours@elsewhere.example")},
		{acct, dsnFor("angry@dest.example", "5.1.1", "550 user unknown", id+"@tidings.test")}, // a bounce
		{acct, "Subject: hi\r\n\r\nhello\r\n"},
	} {
		got, err := b.svc.ComplaintAbout(b.ctx, c.acct, strings.NewReader(c.report))
		require.NoError(t, err)
		require.Empty(t, got)
	}
	_, err = b.svc.HandleComplaint(b.ctx, "999999999999", strings.NewReader(report))
	require.True(t, fault.Is(err, fault.Invalid), "%v", err)

	did, err := b.svc.HandleComplaint(b.ctx, acct, strings.NewReader(report))
	require.NoError(t, err)
	require.Contains(t, did, "Message-ID")
	// The Raw message kept its own Message-ID: the return path the
	// receiver recorded finds it; the recipient was redacted.
	verp := "bounce-" + rawID + "@bounce.example.com"
	redacted := strings.Replace(arfFor("redacted@dest.example", "own-1@app.example"), "Message-ID:", "Return-Path: <"+verp+">\r\nMessage-ID:", 1)
	got, err = b.svc.ComplaintAbout(b.ctx, acct, strings.NewReader(redacted))
	require.NoError(t, err)
	require.Equal(t, rawID, got)
	// The same id on another domain proves nothing.
	forged := strings.Replace(redacted, "@bounce.example.com", "@elsewhere.example", 1)
	got, err = b.svc.ComplaintAbout(b.ctx, acct, strings.NewReader(forged))
	require.NoError(t, err)
	require.Empty(t, got)
	did, err = b.svc.HandleComplaint(b.ctx, acct, strings.NewReader(redacted))
	require.NoError(t, err)
	require.Contains(t, did, "return path")

	co := byType(b.waitEvents(t, 6), "Complaint")
	require.Len(t, co, 2)
	byID := map[string]map[string]any{}
	for _, c := range co {
		byID[c["mail"].(map[string]any)["messageId"].(string)] = c["complaint"].(map[string]any)
	}
	require.Equal(t, []any{map[string]any{"emailAddress": "angry@dest.example"}}, byID[id]["complainedRecipients"])
	require.Len(t, byID[rawID]["complainedRecipients"], 2)
	for addr, msg := range map[string]string{"angry@dest.example": id, "quiet@dest.example": rawID, "other@dest.example": rawID} {
		sp, err := b.db.Sending().GetSuppressed(b.ctx, acct, addr)
		require.NoError(t, err, addr)
		require.Equal(t, "COMPLAINT", sp.Reason)
		require.Equal(t, msg, sp.MessageID)
	}
	_, err = b.db.Sending().GetSuppressed(b.ctx, acct, "calm@dest.example")
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
}
