package archive_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

// exchangeReport is an Exchange / Microsoft 365 envelope journal report:
// the report fields in the first part, the original attached unaltered.
const exchangeReport = "From: Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@corp.example>\r\n" +
	"To: journal@journal.corp.example\r\n" +
	"Subject: Q3 acquisition shortlist\r\n" +
	"Date: Tue, 3 Mar 2026 09:15:02 +0000\r\n" +
	"Message-ID: <report-1@journal.corp.example>\r\n" +
	"X-MS-Journal-Report:\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=\"jr\"\r\n" +
	"\r\n" +
	"--jr\r\n" +
	"Content-Type: text/plain; charset=us-ascii\r\n" +
	"\r\n" +
	"Sender: alice.finance@corp.example\r\n" +
	"Subject: Q3 acquisition shortlist\r\n" +
	"Message-Id: <orig-1@corp.example>\r\n" +
	"To: bob.board@corp.example\r\n" +
	"To: carol.member@corp.example, Expanded: board-list@corp.example\r\n" +
	"Cc: dan.forward@corp.example, Forwarded: dan.legal@corp.example\r\n" +
	"Bcc: erin.hidden@corp.example\r\n" +
	"\r\n" +
	"--jr\r\n" +
	"Content-Type: message/rfc822\r\n" +
	"Content-Disposition: attachment\r\n" +
	"\r\n" +
	"From: Alice Finance <alice.finance@corp.example>\r\n" +
	"To: Board <board-list@corp.example>\r\n" +
	"Cc: dan.legal@corp.example\r\n" +
	"Subject: Q3 acquisition shortlist\r\n" +
	"Date: Tue, 3 Mar 2026 09:14:55 +0000\r\n" +
	"Message-ID: <orig-1@corp.example>\r\n" +
	"X-Mailer: Microsoft Outlook 16.0\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=\"orig\"\r\n" +
	"\r\n" +
	"--orig\r\n" +
	"Content-Type: text/plain\r\n" +
	"\r\n" +
	"The shortlist has three names; keep it confidential. Codename bluefinch.\r\n" +
	"--orig\r\n" +
	"Content-Type: application/pdf; name=\"shortlist.pdf\"\r\n" +
	"Content-Disposition: attachment; filename=\"shortlist.pdf\"\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSPj4Kc3RyZWFtCg==\r\n" +
	"--orig--\r\n" +
	"\r\n" +
	"--jr--\r\n"

// workmailRecord is a journal record without the Exchange header, as
// WorkMail sends them (its format is documented as compatible with
// Microsoft's): Recipient lines only.
const workmailRecord = "From: journaling@corp.awsapps.example\r\n" +
	"To: journal@journal.corp.example\r\n" +
	"Subject: Journal record\r\n" +
	"Message-ID: <record-2@corp.awsapps.example>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=\"wm\"\r\n" +
	"\r\n" +
	"--wm\r\n" +
	"Content-Type: text/plain\r\n" +
	"\r\n" +
	"Sender: frank@partner.example\r\n" +
	"Subject: Lunch on Friday?\r\n" +
	"Message-ID: <orig-2@partner.example>\r\n" +
	"Recipient: grace@corp.example\r\n" +
	"Recipient: heidi@corp.example\r\n" +
	"\r\n" +
	"--wm\r\n" +
	"Content-Type: message/rfc822\r\n" +
	"\r\n" +
	"From: Frank <frank@partner.example>\r\n" +
	"To: grace@corp.example\r\n" +
	"Subject: Lunch on Friday?\r\n" +
	"Date: Wed, 4 Mar 2026 11:00:00 +0100\r\n" +
	"Message-ID: <orig-2@partner.example>\r\n" +
	"\r\n" +
	"Shall we try the new ramen place?\r\n" +
	"\r\n" +
	"--wm--\r\n"

// forwarded is not a journal report: a message with a message attached.
const forwarded = "From: ivan@corp.example\r\n" +
	"To: judy@corp.example\r\n" +
	"Subject: Fwd: the contract\r\n" +
	"Message-ID: <fwd-3@corp.example>\r\n" +
	"Content-Type: multipart/mixed; boundary=\"f\"\r\n" +
	"\r\n" +
	"--f\r\n" +
	"Content-Type: text/plain\r\n" +
	"\r\n" +
	"See below.\r\n" +
	"--f\r\n" +
	"Content-Type: message/rfc822\r\n" +
	"\r\n" +
	"From: mallory@vendor.example\r\n" +
	"Subject: the contract\r\n" +
	"\r\n" +
	"Signed.\r\n" +
	"--f--\r\n"

func TestJournalReports(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{jobs: true})
	arc := b.archive(t, "journal", "")
	start := b.clock.Now().Add(-time.Hour)
	ids := map[string]string{
		"exchange": b.store(t, arc, []byte(exchangeReport), start, "journal@journal.corp.example"),
		"workmail": b.store(t, arc, []byte(workmailRecord), start.Add(time.Minute), "journal@journal.corp.example"),
		"forward":  b.store(t, arc, []byte(forwarded), start.Add(2*time.Minute)),
		// Cut inside the original's attachment: archived all the same,
		// flagged, and still found by the report's fields.
		"truncated": b.store(t, arc, []byte(exchangeReport[:strings.Index(exchangeReport, "JVBERi0x")+10]), start.Add(3*time.Minute),
			"journal@journal.corp.example"),
	}
	name := func(id string) string {
		for n, v := range ids {
			if v == id {
				return n
			}
		}
		return id
	}

	search := func(filters map[string]any) ([]string, []map[string]any) {
		t.Helper()
		in := map[string]any{"ArchiveId": arc, "FromTimestamp": epoch(start.Add(-time.Minute)), "ToTimestamp": epoch(b.clock.Now()), "MaxResults": 100}
		if filters != nil {
			in["Filters"] = filters
		}
		sid := b.callOK("StartArchiveSearch", in)["SearchId"].(string)
		b.awaitState(t, "GetArchiveSearch", "SearchId", sid, "COMPLETED")
		res := b.callOK("GetArchiveSearchResults", map[string]any{"SearchId": sid})
		var names []string
		var rows []map[string]any
		for _, r := range res["Rows"].([]any) {
			row := r.(map[string]any)
			rows = append(rows, row)
			names = append(names, name(row["ArchivedMessageId"].(string)))
		}
		slices.Sort(names)
		return names, rows
	}
	include := func(attr string, v string) map[string]any {
		return map[string]any{"Include": []any{strExpr(attr, "CONTAINS", v)}}
	}

	// Rows show the original's fields.
	_, rows := search(include("FROM", "alice.finance"))
	require.Len(t, rows, 2)
	for _, r := range rows {
		if r["ArchivedMessageId"] != ids["exchange"] {
			continue
		}
		require.Equal(t, "Alice Finance <alice.finance@corp.example>", r["From"])
		require.Equal(t, "Board <board-list@corp.example>", r["To"])
		require.Equal(t, "dan.legal@corp.example", r["Cc"])
		require.Equal(t, "Q3 acquisition shortlist", r["Subject"])
		require.Equal(t, "<orig-1@corp.example>", r["MessageId"])
		require.Equal(t, "Tue, 3 Mar 2026 09:14:55 +0000", r["Date"])
		require.Equal(t, "Microsoft Outlook 16.0", r["XMailer"])
		require.Equal(t, true, r["HasAttachments"])
		// The SMTP envelope stays the journal's.
		require.Equal(t, []any{"journal@journal.corp.example"}, r["Envelope"].(map[string]any)["To"])
	}

	for _, tc := range []struct {
		attr, value string
		want        []string
	}{
		{"FROM", "alice.finance", []string{"exchange", "truncated"}},
		{"FROM", "frank@partner", []string{"workmail"}},
		{"FROM", "microsoftexchange", nil}, // the report's sender is not the message's
		{"TO", "board-list", []string{"exchange", "truncated"}},
		{"SUBJECT", "lunch on friday", []string{"workmail"}},
		{"SUBJECT", "journal record", nil},
		// The journal's recipients: Bcc, expanded, forwarded.
		{"ENVELOPE_TO", "erin.hidden", []string{"exchange", "truncated"}},
		{"ENVELOPE_TO", "carol.member", []string{"exchange", "truncated"}},
		{"ENVELOPE_TO", "dan.forward", []string{"exchange", "truncated"}},
		{"ENVELOPE_TO", "heidi@corp", []string{"workmail"}},
		{"ENVELOPE_FROM", "frank@partner", []string{"workmail"}},
		// A forwarded message is not a report: its own header counts.
		{"FROM", "mallory", nil},
		{"FROM", "ivan@corp", []string{"forward"}},
	} {
		got, _ := search(include(tc.attr, tc.value))
		require.Equal(t, tc.want, got, "%s CONTAINS %s", tc.attr, tc.value)
	}

	// The native search: from:, to: (Bcc too), words of the original.
	for q, want := range map[string][]string{
		"from:alice.finance@corp.example": {"exchange", "truncated"},
		"to:erin.hidden@corp.example":     {"exchange", "truncated"},
		"to:heidi@corp.example":           {"workmail"},
		"bluefinch":                       {"exchange", "truncated"},
		"ramen from:frank":                {"workmail"},
		"shortlist.pdf":                   {"exchange", "truncated"},
	} {
		res, err := b.svc.SearchNative(b.ctx, acct1, arc, q, 10, "")
		require.NoError(t, err, q)
		var got []string
		for _, m := range res.Messages {
			got = append(got, name(m.ID))
			require.Equal(t, name(m.ID) == "truncated", m.Malformed, q)
		}
		slices.Sort(got)
		require.Equal(t, want, got, q)
	}

	// The content is the original's; the truncated one is flagged.
	c, err := b.svc.GetArchiveMessageContent(b.ctx, &mm.GetArchiveMessageContentRequest{ArchivedMessageId: p(ids["exchange"])})
	require.NoError(t, err)
	require.Contains(t, *c.Body.Text, "Codename bluefinch")
	require.NotContains(t, *c.Body.Text, "Bcc: erin")
	require.Nil(t, c.Body.MessageMalformed)
	c, err = b.svc.GetArchiveMessageContent(b.ctx, &mm.GetArchiveMessageContentRequest{ArchivedMessageId: p(ids["truncated"])})
	require.NoError(t, err)
	require.True(t, *c.Body.MessageMalformed)

	m, rc, err := b.svc.OpenMessage(context.Background(), acct1, ids["truncated"])
	require.NoError(t, err)
	rc.Close()
	require.True(t, m.Malformed)
	require.NotNil(t, m.Meta.Journal)
	require.Equal(t, "exchange", m.Meta.Journal.Format)
	require.Equal(t, []string{"erin.hidden@corp.example"}, m.Meta.Journal.Bcc)
	require.Equal(t, "Q3 acquisition shortlist", m.Meta.Subject)

	m, rc, err = b.svc.OpenMessage(context.Background(), acct1, ids["workmail"])
	require.NoError(t, err)
	rc.Close()
	require.Equal(t, "record", m.Meta.Journal.Format)
	require.Equal(t, []string{"grace@corp.example", "heidi@corp.example"}, m.Meta.Journal.Recipients)
	require.Equal(t, "Journal record", m.Meta.Journal.ReportSubject)
	require.False(t, m.Malformed)
	require.False(t, m.HasAttachments, "the original has none")

	m, rc, err = b.svc.OpenMessage(context.Background(), acct1, ids["forward"])
	require.NoError(t, err)
	rc.Close()
	require.Nil(t, m.Meta.Journal)
	require.Equal(t, "Fwd: the contract", m.Meta.Subject)
}

// TestJournalReportOnly: a report whose attachment is missing entirely
// (cut before it) still shows the report's fields, flagged.
func TestJournalReportOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	arc := b.archive(t, "journal-cut", "")
	raw := exchangeReport[:strings.Index(exchangeReport, "--jr\r\nContent-Type: message/rfc822")]
	id := b.store(t, arc, []byte(raw), time.Time{})
	m, rc, err := b.svc.OpenMessage(context.Background(), acct1, id)
	require.NoError(t, err)
	rc.Close()
	require.True(t, m.Malformed)
	require.Equal(t, "alice.finance@corp.example", m.Meta.From)
	require.Equal(t, "Q3 acquisition shortlist", m.Meta.Subject)
	require.Equal(t, "<orig-1@corp.example>", m.Meta.MessageID)
	require.Contains(t, m.Meta.Problems, "journal report without the original message attached")
	res, err := b.svc.SearchNative(b.ctx, acct1, arc, "to:erin.hidden@corp.example", 10, "")
	require.NoError(t, err)
	require.Len(t, res.Messages, 1)
	require.True(t, res.Messages[0].Malformed)
}
