package feedback

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func open(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

type rcptWant struct {
	addr, action, status string
	typ                  BounceType
	sub                  BounceSubType
	diag                 string // a substring of the diagnostic
}

func TestParseDSN(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file      string
		format    Format
		typ       BounceType
		sub       BounceSubType
		delayed   bool
		msgID     string
		complete  bool
		reporting string
		rcpts     []rcptWant
	}{
		{"dsn/rfc3464-postfix.eml", FormatRFC3464, Permanent, SubNoEmail, false, "0100018c2a-postfix@email.example.com", true, "mx1.example.net",
			[]rcptWant{{"nobody@example.net", "failed", "5.1.1", Permanent, SubNoEmail, "User unknown in local recipient table"}}},
		{"dsn/rfc3464-office365.eml", FormatRFC3464, Permanent, SubNoEmail, false, "0100018c2b-o365@email.example.com", false, "AM0PR01MB1234.eurprd01.prod.exchangelabs.com",
			[]rcptWant{{"gone@contoso.com", "failed", "5.1.10", Permanent, SubNoEmail, "RecipientNotFound"}}},
		{"dsn/rfc3464-delayed.eml", FormatRFC3464, Transient, SubGeneral, true, "0100018c2c-delay@email.example.com", false, "relay.example.org",
			[]rcptWant{{"slow@example.org", "delayed", "4.4.1", Transient, SubGeneral, "Connection timed out"}}},
		{"dsn/rfc3464-mailboxfull-gmail.eml", FormatRFC3464, Transient, SubMailboxFull, false, "0100018c2d-full@email.example.com", true, "googlemail.com",
			[]rcptWant{{"full.person@gmail.com", "failed", "5.2.2", Transient, SubMailboxFull, "out of storage space"}}},
		{"dsn/qmail.eml", FormatQmail, Permanent, SubNoEmail, false, "0100018c2e-qmail@email.example.com", true, "",
			[]rcptWant{
				{"nouser@example.info", "failed", "5.1.1", Permanent, SubNoEmail, "no mailbox here by that name"},
				{"toobig@example.info", "failed", "5.3.4", Transient, SubMessageTooLarge, "552 5.3.4 Message size exceeds"},
			}},
		{"dsn/exim.eml", FormatExim, Permanent, SubNoEmail, false, "0100018c2f-exim@email.example.com", true, "",
			[]rcptWant{
				{"jane.doe@example.co.uk", "failed", "5.1.1", Permanent, SubNoEmail, "after RCPT TO:<jane.doe@example.co.uk>: 550 5.1.1"},
				{"spamtrap@example.co.uk", "failed", "5.7.1", Transient, SubContentRejected, "rejected as spam"},
			}},
		{"dsn/postfix-nodsn.eml", FormatPostfix, Permanent, SubGeneral, false, "0100018c30-pfx@email.example.com", true, "",
			[]rcptWant{
				{"bob@example.biz", "failed", "4.2.2", Transient, SubMailboxFull, "452 4.2.2 <bob@example.biz>: Mailbox full (in reply to RCPT TO command)"},
				{"carol@example.biz", "failed", "5.7.1", Permanent, SubGeneral, "Relay access denied"},
			}},
		{"dsn/exchange-nodsn.eml", FormatExchange, Permanent, SubNoEmail, false, "0100018c31-exch@email.example.com", false, "",
			[]rcptWant{{"ghost@fabrikam.com", "failed", "5.1.1", Permanent, SubNoEmail, "RESOLVER.ADR.RecipNotFound"}}},
		{"dsn/gmail-legacy.eml", FormatGmail, Permanent, SubNoEmail, false, "0100018c32-gmail@email.example.com", true, "",
			[]rcptWant{{"missing.user@gmail.com", "failed", "5.1.1", Permanent, SubNoEmail, "does not exist"}}},
		{"dsn/gmail-address-not-found.eml", FormatGmail, Permanent, SubGeneral, false, "0100018c33-gmail@email.example.com", true, "",
			[]rcptWant{{"nobody.here@example.dev", "failed", "5.1.2", Permanent, SubGeneral, "NXDOMAIN"}}},
		{"dsn/exim-delayed.eml", FormatExim, Transient, SubGeneral, true, "0100018c39-eximdelay@email.example.com", false, "",
			[]rcptWant{{"late@example.co.uk", "delayed", "4.7.1", Transient, SubGeneral, "Greylisted"}}},
		{"dsn/sendmail-nodsn.eml", FormatUnknown, Permanent, SubNoEmail, false, "0100018c3a-sendmail@email.example.com", true, "",
			[]rcptWant{{"who@example.edu", "failed", "5.1.1", Permanent, SubNoEmail, "User unknown"}}},
		{"dsn/truncated.eml", FormatRFC3464, Permanent, SubNoEmail, false, "0100018c34-trunc@email.example.com", true, "broken.example",
			[]rcptWant{{"someone@broken.example", "failed", "5.0.0", Permanent, SubNoEmail, "mailbox unavailable"}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			b, err := ParseDSN(bytes.NewReader(open(t, tt.file)))
			require.NoError(t, err)
			require.Equal(t, tt.format, b.Format)
			require.Equal(t, tt.typ, b.Type, "bounce type")
			require.Equal(t, tt.sub, b.SubType, "bounce subtype")
			require.Equal(t, tt.delayed, b.Delayed)
			require.Equal(t, tt.reporting, b.ReportingMTA)
			require.NotNil(t, b.Original)
			require.Equal(t, tt.msgID, b.Original.MessageID)
			require.Equal(t, tt.complete, b.Original.Complete)
			require.Len(t, b.Recipients, len(tt.rcpts))
			for i, w := range tt.rcpts {
				rc := b.Recipients[i]
				require.Equal(t, w.addr, rc.EmailAddress)
				require.Equal(t, w.action, rc.Action)
				require.Equal(t, w.status, rc.Status)
				require.Equal(t, w.typ, rc.Type, rc.EmailAddress)
				require.Equal(t, w.sub, rc.SubType, rc.EmailAddress)
				require.Contains(t, rc.DiagnosticCode, w.diag)
			}
		})
	}
}

func TestParseDSNDetails(t *testing.T) {
	t.Parallel()
	b, err := ParseDSN(bytes.NewReader(open(t, "dsn/rfc3464-postfix.eml")))
	require.NoError(t, err)
	rc := b.Recipients[0]
	require.Equal(t, "Nobody@example.net", rc.OriginalRecipient)
	require.Equal(t, "mailstore.example.net", rc.RemoteMTA)
	require.Equal(t, time.Date(2026, 11, 24, 10, 15, 3, 0, time.UTC), b.ArrivalDate)
	o := b.Original
	require.Equal(t, "Your order № 1234", o.Subject, "RFC 2047 decoded")
	require.Equal(t, "Example Shop <orders@example.com>", o.From)
	h := headers(o.Headers)
	require.Equal(t, "welcome:campaign1:111122223333:tidings", h.get("Feedback-ID"))
	require.Contains(t, h.get("DKIM-Signature"), "h=From:To:Subject:Date:Message-ID; bh=", "folded fields are unfolded")

	d, err := ParseDSN(bytes.NewReader(open(t, "dsn/rfc3464-delayed.eml")))
	require.NoError(t, err)
	require.Equal(t, "0100018c2c-envid", d.OriginalEnvelopeID)

	g, err := ParseDSN(bytes.NewReader(open(t, "dsn/rfc3464-mailboxfull-gmail.eml")))
	require.NoError(t, err)
	require.Equal(t, "0100018c2d-full@email.example.com", g.Original.MessageID)
	require.NotEmpty(t, g.Original.Headers, "the returned message replaces the X-Original-Message-ID")

	// X-Original-Message-ID alone names the original.
	only := strings.Replace(string(open(t, "dsn/rfc3464-mailboxfull-gmail.eml")), "Content-Type: message/rfc822", "Content-Type: application/octet-stream", 1)
	g, err = ParseDSN(strings.NewReader(only))
	require.NoError(t, err)
	require.Equal(t, "0100018c2d-full@email.example.com", g.Original.MessageID)
	require.Empty(t, g.Original.Headers)
	require.Equal(t, time.Date(2026, 11, 24, 18, 59, 59, 0, time.UTC), g.Recipients[0].LastAttemptDate)
}

func TestNotABounce(t *testing.T) {
	t.Parallel()
	for _, msg := range []string{
		"",
		"garbage without headers",
		"From: friend@example.com\nSubject: lunch?\n\nAre you free at noon?\n",
		"Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/plain\n\nhello\n--x--\n",
	} {
		_, err := ParseDSN(strings.NewReader(msg))
		require.True(t, errors.Is(err, ErrNotBounce), "%q: %v", msg, err)
		_, err = ParseARF(strings.NewReader(msg))
		require.True(t, errors.Is(err, ErrNotComplaint), "%q: %v", msg, err)
	}
	// A bounce of an unknown MTA still counts by its subject.
	b, err := ParseDSN(strings.NewReader("From: MAILER-DAEMON@odd.example\nSubject: Returned mail: User unknown\n\n" +
		"The following address had permanent fatal errors:\n<who@odd.example>\n    (reason: 550 5.1.1 <who@odd.example>... User unknown)\n"))
	require.NoError(t, err)
	require.Equal(t, FormatUnknown, b.Format)
	require.Equal(t, Permanent, b.Type)
	require.Equal(t, SubNoEmail, b.SubType)
	require.Equal(t, "who@odd.example", b.Recipients[0].EmailAddress)
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status, diag string
		typ          BounceType
		sub          BounceSubType
	}{
		{"5.1.1", "smtp; 550 5.1.1 user unknown", Permanent, SubNoEmail},
		{"", "550 5.1.1 The email account that you tried to reach does not exist", Permanent, SubNoEmail},
		{"", "550 No such user here", Permanent, SubNoEmail},
		{"5.1.2", "Host or domain name not found", Permanent, SubGeneral},
		{"5.2.2", "mailbox full", Transient, SubMailboxFull},
		{"4.2.2", "", Transient, SubMailboxFull},
		{"5.0.0", "552 Requested mail action aborted: exceeded storage allocation; over quota", Transient, SubMailboxFull},
		{"5.3.4", "", Transient, SubMessageTooLarge},
		{"", "552 Message size exceeds fixed limit", Transient, SubMessageTooLarge},
		{"5.7.1", "554 5.7.1 Message rejected: virus found in attachment", Transient, SubAttachmentRejected},
		{"5.7.1", "550 5.7.1 [IPTS04] Messages from 192.0.2.1 weren't sent. Please contact your Internet service provider since part of their network is on our block list (blocklist)", Transient, SubContentRejected},
		{"5.6.0", "", Transient, SubContentRejected},
		{"4.4.1", "Connection timed out", Transient, SubGeneral},
		{"", "421 Service not available", Transient, SubGeneral},
		{"5.7.1", "Relay access denied", Permanent, SubGeneral},
		{"5.0.0", "", Permanent, SubGeneral},
		{"", "something odd happened", Undetermined, SubUndetermined},
	}
	for _, tt := range tests {
		typ, sub := Classify(tt.status, tt.diag)
		require.Equal(t, tt.typ, typ, "%s %q", tt.status, tt.diag)
		require.Equal(t, tt.sub, sub, "%s %q", tt.status, tt.diag)
	}
}

func TestParseARF(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file, feedbackType, raw, userAgent, version string
		arrival                                     time.Time
		sourceIP, mailFrom                          string
		rcptTo, complained                          []string
		msgID                                       string
		complete                                    bool
	}{
		{"arf/rfc5965-abuse.eml", FeedbackAbuse, "abuse", "SomeGenerator/1.0", "1", time.Date(2005, 3, 8, 18, 0, 0, 0, time.UTC),
			"192.0.2.1", "somespammer@example.net", []string{"user@example.com"}, []string{"user@example.com"}, "8787KJKJ3K4J3K4J3K4J3.mail@example.net", true},
		{"arf/yahoo-fbl.eml", FeedbackAbuse, "abuse", "Yahoo!-Mail-Feedback/2.0", "0.1", time.Date(2026, 11, 24, 12, 58, 2, 0, time.UTC),
			"", "bounces+0100018c35@mail.example.com", []string{"reader@yahoo.com"}, []string{"reader@yahoo.com"}, "0100018c35-yahoo@email.example.com", true},
		{"arf/hotmail-jmrp.eml", FeedbackAbuse, "abuse", "Hotmail FBL", "1.0", time.Date(2026, 11, 24, 21, 55, 0, 0, time.UTC),
			"203.0.113.25", "", nil, []string{"reader@hotmail.com"}, "0100018c36-jmrp@email.example.com", true},
		{"arf/headers-only-not-spam.eml", FeedbackNotSpam, "not-spam", "ISP-FBL/3.1", "1", time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC),
			"", "", []string{"fan@isp.example"}, []string{"fan@isp.example"}, "0100018c37-ns@email.example.com", false},
		{"arf/unknown-type-crlf.eml", FeedbackOther, "opt-out", "", "1", time.Time{},
			"", "", nil, []string{"person@isp2.example"}, "0100018c38-crlf@email.example.com", true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			c, err := ParseARF(bytes.NewReader(open(t, tt.file)))
			require.NoError(t, err)
			require.Equal(t, tt.feedbackType, c.FeedbackType)
			require.Equal(t, tt.raw, c.RawFeedbackType)
			require.Equal(t, tt.userAgent, c.UserAgent)
			require.Equal(t, tt.version, c.Version)
			require.Equal(t, tt.arrival, c.ArrivalDate)
			require.Equal(t, tt.sourceIP, c.SourceIP)
			require.Equal(t, tt.mailFrom, c.OriginalMailFrom)
			require.Equal(t, tt.rcptTo, c.OriginalRcptTo)
			require.Equal(t, tt.complained, c.ComplainedRecipients)
			require.NotNil(t, c.Original)
			require.Equal(t, tt.msgID, c.Original.MessageID)
			require.Equal(t, tt.complete, c.Original.Complete)
		})
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	r, err := Parse(bytes.NewReader(open(t, "arf/yahoo-fbl.eml")))
	require.NoError(t, err)
	require.NotNil(t, r.Complaint)
	require.Nil(t, r.Bounce)
	r, err = Parse(bytes.NewReader(open(t, "dsn/exim.eml")))
	require.NoError(t, err)
	require.NotNil(t, r.Bounce)
	require.Nil(t, r.Complaint)
	_, err = Parse(strings.NewReader("Subject: hi\n\nhello"))
	require.ErrorIs(t, err, ErrNotBounce)
}

// A report larger than MaxReportBytes is read up to the limit, not whole.
func TestLimits(t *testing.T) {
	t.Parallel()
	big := string(open(t, "dsn/rfc3464-postfix.eml")) + strings.Repeat("x", MaxReportBytes)
	b, err := ParseDSN(strings.NewReader(big))
	require.NoError(t, err)
	require.Equal(t, "nobody@example.net", b.Recipients[0].EmailAddress)
	// Deep nesting and many parts are bounded.
	var sb strings.Builder
	sb.WriteString("Subject: Undeliverable\nContent-Type: multipart/mixed; boundary=b0\n\n")
	for i := range 50 {
		sb.WriteString("--b" + itoa(i) + "\nContent-Type: multipart/mixed; boundary=b" + itoa(i+1) + "\n\n")
	}
	_, err = ParseDSN(strings.NewReader(sb.String()))
	require.NoError(t, err)
}

func itoa(i int) string { return string(rune('0'+i/10)) + string(rune('0'+i%10)) }

// arfShape is an ARF report built like a feedback loop's (RFC 5965):
// the third part is the original as message/rfc822 or its header as
// text/rfc822-headers.
func arfShape(fields, thirdType, third string) string {
	return strings.ReplaceAll(`From: Feedback Loop <fbl@isp.example>
To: fbl@mail.example.com
Subject: Abuse report
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="b1"

--b1
Content-Type: text/plain

This is an email abuse report.

--b1
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ISP-FBL/1.0
Version: 1
`+fields+`
--b1
Content-Type: `+thirdType+`

`+third+`
--b1--
`, "\n", "\r\n")
}

// TestComplaintOriginalReferences: the Message-ID of the original and
// the return paths a report gives (Original-Mail-From, the original's
// Return-Path) are found in the common shapes of reports sent to a fixed
// feedback-loop address — whole original, headers only, recipient
// redacted, original in base64 (Microsoft JMRP) — and the complained
// recipient comes from Original-Rcpt-To or the original's To.
func TestComplaintOriginalReferences(t *testing.T) {
	t.Parallel()
	const tid = "010001a216603a0f-7768efbc-5097-4189-b5c6-73f7285ef099-000000"
	original := "Return-Path: <bounce-" + tid + "@mail.example.com>\nFrom: Shop <news@example.com>\nTo: Reader <reader@isp.example>\n" +
		"Subject: Sale\nMessage-ID: <" + tid + "@tidings.example.com>\nFeedback-ID: a:b:us-east-1.3f23f267c72b:tidings\n"
	tests := []struct {
		name        string
		report      string
		msgID       string
		returnPaths []string
		complained  []string
		complete    bool
	}{
		{"WholeOriginal",
			arfShape("Original-Mail-From: <bounce-"+tid+"@mail.example.com>\nOriginal-Rcpt-To: reader@isp.example\n", "message/rfc822", original+"\nHello.\n"),
			tid + "@tidings.example.com", []string{"bounce-" + tid + "@mail.example.com"}, []string{"reader@isp.example"}, true},
		{"HeadersOnly",
			arfShape("Arrival-Date: Tue, 24 Nov 2026 12:58:02 +0000\n", "text/rfc822-headers", original),
			tid + "@tidings.example.com", []string{"bounce-" + tid + "@mail.example.com"}, []string{"reader@isp.example"}, false},
		{"Redacted",
			arfShape("Original-Mail-From: <news@example.com>\nOriginal-Rcpt-To: redacted@isp.example\n", "message/rfc822",
				strings.Replace(strings.Replace(original, "Reader <reader@isp.example>", "xxxxxx@isp.example", 1), "Return-Path: <bounce-"+tid+"@mail.example.com>\n", "", 1)+"\nHello.\n"),
			tid + "@tidings.example.com", []string{"news@example.com"}, []string{}, true},
		{"NullSenderNoReturnPath",
			arfShape("Original-Mail-From: <>\n", "message/rfc822", "From: news@example.com\nTo: a@isp.example\nMessage-ID:\n <"+tid+"@h>\n\nHi\n"),
			tid + "@h", nil, []string{"a@isp.example"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := ParseARF(strings.NewReader(tt.report))
			require.NoError(t, err)
			require.NotNil(t, c.Original)
			require.Equal(t, tt.msgID, c.Original.MessageID)
			require.Equal(t, tt.complete, c.Original.Complete)
			require.Equal(t, tt.returnPaths, c.ReturnPaths())
			require.Equal(t, tt.complained, c.ComplainedRecipients)
		})
	}
	// The samples of real reporters.
	for file, want := range map[string][]string{
		"arf/yahoo-fbl.eml":    {"bounces+0100018c35@mail.example.com", "bounces+0100018c2a@mail.example.com"},
		"arf/hotmail-jmrp.eml": {"bounces+0100018c2a@mail.example.com"},
	} {
		c, err := ParseARF(bytes.NewReader(open(t, file)))
		require.NoError(t, err)
		require.Equal(t, want, c.ReturnPaths(), file)
	}
}
