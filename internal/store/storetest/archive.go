package storetest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/archive"
	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/store"
)

// RunArchive runs the conformance suite of archive.Store; open returns a
// fresh, empty database for each test. Every database must give exactly
// the results written here, so that a query means the same on all.
func RunArchive(t *testing.T, open func(t *testing.T) *store.DB) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b *archiveBundle)
	}{
		{"InsertGet", testArchiveInsertGet},
		{"InsertBatch", testArchiveInsertBatch},
		{"Filter", testArchiveFilter},
		{"FilterPagination", testArchiveFilterPagination},
		{"Search", testArchiveSearch},
		{"SearchRanking", testArchiveSearchRanking},
		{"SearchPagination", testArchiveSearchPagination},
		{"SearchRankedPages", testArchiveSearchRankedPages},
		{"SearchWindows", testArchiveSearchWindows},
		{"Delete", testArchiveDelete},
		{"Tasks", testArchiveTasks},
		{"TaskHistory", testArchiveTaskHistory},
		{"SearchResults", testArchiveSearchResults},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			t.Cleanup(cancel)
			db := open(t)
			tt.fn(t, &archiveBundle{ctx: ctx, db: db, st: db.Archive()})
		})
	}
}

type archiveBundle struct {
	ctx context.Context
	db  *store.DB
	st  archive.Store
}

const (
	arcA = "a-archive1"
	arcB = "a-archive2"
)

var day0 = time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)

// corpusMsg is a test message: metadata and the text it is indexed by.
type corpusMsg struct {
	id, archive, acct string
	at                time.Time
	subject           string
	from, to, cc      string
	envFrom           string
	envTo             []string
	attach            []string
	body              string
}

// corpus is the messages every search test runs on.
var corpus = []corpusMsg{
	{id: "m01", subject: "Quarterly report Q1", from: "Alice Martin <alice@corp.example>", to: "bob@corp.example",
		envFrom: "alice@corp.example", envTo: []string{"bob@corp.example"}, body: "Please find the quarterly report attached. Revenue grew."},
	{id: "m02", subject: "Lunch?", from: "Bob <bob@corp.example>", to: "alice@corp.example", cc: "carol@corp.example",
		envFrom: "bob@corp.example", envTo: []string{"alice@corp.example", "carol@corp.example"}, body: "Shall we have lunch at noon? The report can wait."},
	{id: "m03", subject: "Invoice 2025-031", from: "billing@vendor.example", to: "accounts@corp.example",
		envFrom: "bounce@vendor.example", envTo: []string{"accounts@corp.example"}, attach: []string{"invoice-2025-031.pdf"},
		body: "Your invoice is attached. Payment due in thirty days."},
	{id: "m04", subject: "Résumé for the engineering role", from: "Zoë Müller <zoe@applicant.example>", to: "jobs@corp.example",
		envFrom: "zoe@applicant.example", envTo: []string{"jobs@corp.example"}, attach: []string{"Zoë Müller CV.docx"},
		body: "Dear team, my résumé is attached. Kind regards, Zoë"},
	{id: "m05", subject: "Re: Quarterly report Q1", from: "bob@corp.example", to: "alice@corp.example",
		envFrom: "bob@corp.example", envTo: []string{"alice@corp.example"}, body: "Report looks fine. Revenue report numbers match the quarterly plan."},
	{id: "m06", subject: "東京オフィスの会議", from: "tanaka@jp.example", to: "alice@corp.example",
		envFrom: "tanaka@jp.example", envTo: []string{"alice@corp.example"}, body: "来週の会議は東京都で行います。"},
	{id: "m07", subject: "report", from: "noreply@monitor.example", to: "ops@corp.example",
		envFrom: "noreply@monitor.example", envTo: []string{"ops@corp.example", "bob@corp.example"}, body: "Disk usage report: all green."},
	// Another archive and another account: never in arcA's results.
	{id: "m08", archive: arcB, subject: "Quarterly report Q1", from: "alice@corp.example", to: "bob@corp.example", body: "report"},
	{id: "m09", acct: acctB, subject: "Quarterly report Q1", from: "alice@corp.example", to: "bob@corp.example", body: "report"},
}

func (c corpusMsg) message() (*archive.Message, *archive.Document) {
	m := &archive.Message{
		AccountID: acctA, ArchiveID: arcA, ID: c.id, ReceivedAt: c.at,
		BlobKey: "archive/" + c.id, Size: int64(100 + len(c.body)), StoredSize: 50, SHA256: "00",
		Compression: archive.Compression, HasAttachments: len(c.attach) > 0,
		Meta: archive.Meta{Subject: c.subject, From: c.from, To: c.to, Cc: c.cc, EnvelopeFrom: c.envFrom,
			EnvelopeTo: c.envTo, Attachments: c.attach, MessageID: "<" + c.id + "@test>"},
	}
	if c.archive != "" {
		m.ArchiveID = c.archive
	}
	if c.acct != "" {
		m.AccountID = c.acct
	}
	doc := archive.NewDocument(c.subject, []string{c.from, c.envFrom}, append([]string{c.to, c.cc}, c.envTo...), c.attach, c.body)
	return m, doc
}

// load inserts the corpus; message i is received i hours after day0.
func (b *archiveBundle) load(t *testing.T) {
	t.Helper()
	for i, c := range corpus {
		c.at = day0.Add(time.Duration(i) * time.Hour)
		m, doc := c.message()
		require.NoError(t, b.st.InsertMessage(b.ctx, m, doc))
	}
}

func ids(msgs []*archive.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

func hitIDs(hits []archive.Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.Message.ID
	}
	return out
}

func testArchiveInsertGet(t *testing.T, b *archiveBundle) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 678901234, time.FixedZone("X", 7200))
	m := &archive.Message{
		AccountID: acctA, ArchiveID: arcA, ID: "0190abc", ReceivedAt: at, BlobKey: "archive/x/y.eml.zst",
		Size: 1234, StoredSize: 567, SHA256: "ab12", Compression: archive.Compression, DataKeyID: "dk-1",
		Malformed: true, HasAttachments: true,
		Meta: archive.Meta{
			Subject: "Grüße and \xff bad bytes", From: "a@x.example", To: "b@y.example", Cc: "c@z.example",
			Date: "Mon, 2 Jan 2025 03:04:05 +0200", MessageID: "<1@x>", InReplyTo: "<0@x>",
			XMailer: "Mailer 1", XOriginalMailer: "Orig", XPriority: "1",
			Received: []string{"from a by b", "from c by d"}, Attachments: []string{"a.pdf"},
			EnvelopeFrom: "bounce@x.example", EnvelopeTo: []string{"b@y.example", "d@y.example"}, Helo: "mx.x.example",
			IngressPointID: "inp-1", SourceARN: "arn:aws:ses:us-east-1:1:mailmanager-ingress-point/inp-1",
			SenderHostname: "mx.x.example", SenderIP: "192.0.2.1", TLSProtocol: "TLS1_3", TLSCipherSuite: "TLS_AES_128_GCM_SHA256",
			SPF: "PASS", Problems: []string{"bad boundary"},
		},
	}
	require.NoError(t, b.st.InsertMessage(b.ctx, m, archive.NewDocument("s", nil, nil, nil, "")))
	got, err := b.st.GetMessage(b.ctx, acctA, "0190abc")
	require.NoError(t, err)
	want := *m
	want.ReceivedAt = at.UTC().Truncate(time.Millisecond)
	// What a database cannot hold comes back replaced, not refused.
	want.Meta.Subject = "Grüße and \uFFFD bad bytes"
	require.Equal(t, want.ReceivedAt, got.ReceivedAt)
	require.Equal(t, time.UTC, got.ReceivedAt.Location())
	got.ReceivedAt = want.ReceivedAt
	require.Equal(t, &want, got)

	_, err = b.st.GetMessage(b.ctx, acctB, "0190abc")
	requireKind(t, err, fault.NotFound)
	_, err = b.st.GetMessage(b.ctx, acctA, "nope")
	requireKind(t, err, fault.NotFound)
	err = b.st.InsertMessage(b.ctx, m, nil)
	requireKind(t, err, fault.Conflict)
}

// testArchiveInsertBatch: InsertMessages stores a batch in one
// transaction, and a batch with one taken ID stores none of it.
func testArchiveInsertBatch(t *testing.T, b *archiveBundle) {
	msg := func(id, subject string) archive.Insert {
		return archive.Insert{
			Message: &archive.Message{AccountID: acctA, ArchiveID: arcA, ID: id, ReceivedAt: day0, BlobKey: "k/" + id,
				Compression: archive.Compression, Meta: archive.Meta{Subject: subject}},
			Doc: archive.NewDocument(subject, nil, nil, nil, "batch body "+id),
		}
	}
	require.NoError(t, b.st.InsertMessages(b.ctx, []archive.Insert{msg("b1", "one"), msg("b2", "two"), msg("b3", "three")}))
	for _, id := range []string{"b1", "b2", "b3"} {
		_, err := b.st.GetMessage(b.ctx, acctA, id)
		require.NoError(t, err, id)
	}
	err := b.st.InsertMessages(b.ctx, []archive.Insert{msg("b4", "four"), msg("b2", "again")})
	requireKind(t, err, fault.Conflict)
	_, err = b.st.GetMessage(b.ctx, acctA, "b4")
	requireKind(t, err, fault.NotFound)
	hits, err := b.st.SearchMessages(b.ctx, &archive.Query{AccountID: acctA, ArchiveID: arcA, Limit: 10,
		Must: []archive.Term{{Tokens: []string{"batch"}}}})
	require.NoError(t, err)
	require.Len(t, hits, 3, "the failed batch indexed nothing")
}

func testArchiveFilter(t *testing.T, b *archiveBundle) {
	b.load(t)
	f := func(include, unless []archive.Condition) []string {
		t.Helper()
		msgs, err := b.st.FilterMessages(b.ctx, &archive.Filter{AccountID: acctA, ArchiveID: arcA,
			Since: day0, Until: day0.Add(48 * time.Hour), Include: include, Unless: unless, Limit: 100})
		require.NoError(t, err)
		n, err := b.st.CountMessages(b.ctx, &archive.Filter{AccountID: acctA, ArchiveID: arcA,
			Since: day0, Until: day0.Add(48 * time.Hour), Include: include, Unless: unless})
		require.NoError(t, err)
		require.EqualValues(t, len(msgs), n)
		return ids(msgs)
	}
	c := func(a archive.Attribute, vals ...string) archive.Condition {
		for i := range vals {
			vals[i] = archive.Fold(vals[i])
		}
		return archive.Condition{Attr: a, Values: vals}
	}
	// Newest first; only arcA of acctA.
	require.Equal(t, []string{"m07", "m06", "m05", "m04", "m03", "m02", "m01"}, f(nil, nil))
	// CONTAINS is a case-insensitive substring test.
	require.Equal(t, []string{"m07", "m05", "m01"}, f([]archive.Condition{c(archive.AttrSubject, "REPORT")}, nil))
	require.Equal(t, []string{"m05", "m01"}, f([]archive.Condition{c(archive.AttrSubject, "port q")}, nil))
	// Values: any of them.
	require.Equal(t, []string{"m04", "m03"}, f([]archive.Condition{c(archive.AttrFrom, "vendor", "zoë")}, nil))
	require.Equal(t, []string{"m04"}, f([]archive.Condition{c(archive.AttrFrom, "ZOË MÜLLER")}, nil))
	// Include: all conditions.
	require.Equal(t, []string{"m05"}, f([]archive.Condition{c(archive.AttrSubject, "report"), c(archive.AttrFrom, "bob@")}, nil))
	require.Equal(t, []string{"m02"}, f([]archive.Condition{c(archive.AttrCc, "carol")}, nil))
	require.Equal(t, []string{"m06", "m05", "m02"}, f([]archive.Condition{c(archive.AttrTo, "alice@corp")}, nil))
	require.Equal(t, []string{"m07", "m02"}, f([]archive.Condition{c(archive.AttrEnvelopeTo, "carol@", "ops@")}, nil))
	require.Equal(t, []string{"m03"}, f([]archive.Condition{c(archive.AttrEnvelopeFrom, "bounce@vendor")}, nil))
	// Unless: none.
	require.Equal(t, []string{"m07", "m01"}, f([]archive.Condition{c(archive.AttrSubject, "report")},
		[]archive.Condition{c(archive.AttrFrom, "bob")}))
	require.Equal(t, []string{"m04", "m03"}, f([]archive.Condition{{Attr: archive.AttrHasAttachments, Bool: true}}, nil))
	require.Equal(t, []string{"m07", "m06", "m05", "m02", "m01"}, f(nil, []archive.Condition{{Attr: archive.AttrHasAttachments, Bool: true}}))
	require.Equal(t, []string{"m04", "m03"}, f(nil, []archive.Condition{{Attr: archive.AttrHasAttachments, Bool: false}}))
	// Japanese subject: substring of characters.
	require.Equal(t, []string{"m06"}, f([]archive.Condition{c(archive.AttrSubject, "オフィス")}, nil))

	// The time range: Since inclusive, Until exclusive.
	msgs, err := b.st.FilterMessages(b.ctx, &archive.Filter{AccountID: acctA, ArchiveID: arcA,
		Since: day0.Add(time.Hour), Until: day0.Add(3 * time.Hour), Limit: 10})
	require.NoError(t, err)
	require.Equal(t, []string{"m03", "m02"}, ids(msgs))
	// Other archive, other account.
	msgs, err = b.st.FilterMessages(b.ctx, &archive.Filter{AccountID: acctB, ArchiveID: arcA, Limit: 10})
	require.NoError(t, err)
	require.Equal(t, []string{"m09"}, ids(msgs))
	_, err = b.st.FilterMessages(b.ctx, &archive.Filter{AccountID: acctA, ArchiveID: arcA, Include: []archive.Condition{{Attr: "BOGUS", Values: []string{"x"}}}})
	requireKind(t, err, fault.Invalid)
}

func testArchiveFilterPagination(t *testing.T, b *archiveBundle) {
	// Several messages in the same millisecond: the cursor orders by ID too.
	for i := range 25 {
		at := day0.Add(time.Duration(i/3) * time.Minute)
		c := corpusMsg{id: fmt.Sprintf("p%02d", i), at: at, subject: "page", body: "x"}
		m, doc := c.message()
		require.NoError(t, b.st.InsertMessage(b.ctx, m, doc))
	}
	var all []string
	f := &archive.Filter{AccountID: acctA, ArchiveID: arcA, Limit: 7}
	for {
		msgs, err := b.st.FilterMessages(b.ctx, f)
		require.NoError(t, err)
		if len(msgs) == 0 {
			break
		}
		all = append(all, ids(msgs)...)
		last := msgs[len(msgs)-1]
		f.After = &archive.Cursor{ReceivedAt: last.ReceivedAt, ID: last.ID}
	}
	require.Len(t, all, 25)
	want := slices.Clone(all)
	slices.Sort(want)
	slices.Reverse(want)
	require.Equal(t, want, all)
}

// testArchiveSearch: the native query semantics, identical on every
// database.
func testArchiveSearch(t *testing.T, b *archiveBundle) {
	b.load(t)
	term := func(f archive.Field, s string) archive.Term { return archive.Term{Field: f, Tokens: archive.Tokens(s)} }
	yes, no := true, false
	cases := []struct {
		name string
		q    archive.Query
		want []string
	}{
		{"word", archive.Query{Must: []archive.Term{term(archive.FieldAny, "revenue")}}, []string{"m01", "m05"}},
		{"word in any field", archive.Query{Must: []archive.Term{term(archive.FieldAny, "report")}}, []string{"m01", "m02", "m05", "m07"}},
		{"case and accents", archive.Query{Must: []archive.Term{term(archive.FieldAny, "RESUME")}}, []string{"m04"}},
		{"accents in the query", archive.Query{Must: []archive.Term{term(archive.FieldAny, "müller")}}, []string{"m04"}},
		{"two words", archive.Query{Must: []archive.Term{term(archive.FieldAny, "report"), term(archive.FieldAny, "lunch")}}, []string{"m02"}},
		{"phrase", archive.Query{Must: []archive.Term{term(archive.FieldAny, "quarterly report")}}, []string{"m01", "m05"}},
		{"phrase in order only", archive.Query{Must: []archive.Term{term(archive.FieldAny, "report quarterly")}}, nil},
		{"phrase across fields never", archive.Query{Must: []archive.Term{term(archive.FieldAny, "q1 alice")}}, nil},
		{"subject", archive.Query{Must: []archive.Term{term(archive.FieldSubject, "report")}}, []string{"m01", "m05", "m07"}},
		{"subject phrase", archive.Query{Must: []archive.Term{term(archive.FieldSubject, "re quarterly")}}, []string{"m05"}},
		{"from address", archive.Query{Must: []archive.Term{term(archive.FieldSender, "bob@corp.example")}}, []string{"m02", "m05"}},
		{"from envelope", archive.Query{Must: []archive.Term{term(archive.FieldSender, "bounce")}}, []string{"m03"}},
		{"from display name", archive.Query{Must: []archive.Term{term(archive.FieldSender, "zoe")}}, []string{"m04"}},
		{"to (cc, envelope)", archive.Query{Must: []archive.Term{term(archive.FieldRecipients, "carol")}}, []string{"m02"}},
		{"to envelope only", archive.Query{Must: []archive.Term{term(archive.FieldRecipients, "bob")}}, []string{"m01", "m07"}},
		{"attachment name", archive.Query{Must: []archive.Term{term(archive.FieldAny, "cv")}}, []string{"m04"}},
		{"attachment name phrase", archive.Query{Must: []archive.Term{term(archive.FieldAny, "invoice-2025-031.pdf")}}, []string{"m03"}},
		{"negation", archive.Query{Must: []archive.Term{term(archive.FieldAny, "report")}, Not: []archive.Term{term(archive.FieldAny, "revenue")}}, []string{"m02", "m07"}},
		{"negated field", archive.Query{Must: []archive.Term{term(archive.FieldAny, "report")}, Not: []archive.Term{term(archive.FieldSender, "bob")}}, []string{"m01", "m07"}},
		{"only negation", archive.Query{Not: []archive.Term{term(archive.FieldAny, "report"), term(archive.FieldAny, "invoice")}}, []string{"m04", "m06"}},
		{"has attachment", archive.Query{HasAttachments: &yes}, []string{"m03", "m04"}},
		{"without attachment", archive.Query{Must: []archive.Term{term(archive.FieldAny, "attached")}, HasAttachments: &no}, []string{"m01"}},
		{"since", archive.Query{Must: []archive.Term{term(archive.FieldAny, "report")}, Since: day0.Add(2 * time.Hour)}, []string{"m05", "m07"}},
		{"until", archive.Query{Must: []archive.Term{term(archive.FieldAny, "report")}, Until: day0.Add(2 * time.Hour)}, []string{"m01", "m02"}},
		{"japanese phrase", archive.Query{Must: []archive.Term{term(archive.FieldAny, "東京都")}}, []string{"m06"}},
		{"japanese subject", archive.Query{Must: []archive.Term{term(archive.FieldSubject, "会議")}}, []string{"m06"}},
		{"digits", archive.Query{Must: []archive.Term{term(archive.FieldAny, "2025")}}, []string{"m03"}},
		{"nothing", archive.Query{Must: []archive.Term{term(archive.FieldAny, "zebra")}}, nil},
	}
	for _, tc := range cases {
		q := tc.q
		q.AccountID, q.ArchiveID, q.Limit = acctA, arcA, 100
		hits, err := b.st.SearchMessages(b.ctx, &q)
		require.NoError(t, err, tc.name)
		got := hitIDs(hits)
		slices.Sort(got)
		require.Equal(t, tc.want, nilIfEmpty(got), tc.name)
	}
	// Without words: newest first, score 0.
	hits, err := b.st.SearchMessages(b.ctx, &archive.Query{AccountID: acctA, ArchiveID: arcA, Limit: 3})
	require.NoError(t, err)
	require.Equal(t, []string{"m07", "m06", "m05"}, hitIDs(hits))
	// Other accounts and archives are apart.
	hits, err = b.st.SearchMessages(b.ctx, &archive.Query{AccountID: acctB, ArchiveID: arcA, Limit: 10,
		Must: []archive.Term{term(archive.FieldAny, "report")}})
	require.NoError(t, err)
	require.Equal(t, []string{"m09"}, hitIDs(hits))
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func testArchiveSearchRanking(t *testing.T, b *archiveBundle) {
	b.load(t)
	// "revenue report": m05 has both twice or more, and report in the
	// subject; m01 has both once in the body; nothing else has both.
	hits, err := b.st.SearchMessages(b.ctx, &archive.Query{AccountID: acctA, ArchiveID: arcA, Limit: 10,
		Must: []archive.Term{{Tokens: []string{"revenue"}}, {Tokens: []string{"report"}}}})
	require.NoError(t, err)
	require.Len(t, hits, 2)
	require.Greater(t, hits[0].Score, hits[1].Score)
	// A word in the subject outranks the same word once in the body.
	hits, err = b.st.SearchMessages(b.ctx, &archive.Query{AccountID: acctA, ArchiveID: arcA, Limit: 10,
		Must: []archive.Term{{Tokens: []string{"invoice"}}}})
	require.NoError(t, err)
	require.Equal(t, []string{"m03"}, hitIDs(hits))
	hits, err = b.st.SearchMessages(b.ctx, &archive.Query{AccountID: acctA, ArchiveID: arcA, Limit: 10,
		Must: []archive.Term{{Tokens: []string{"lunch"}}}})
	require.NoError(t, err)
	require.Equal(t, []string{"m02"}, hitIDs(hits))
	// m07's subject is just "report": it ranks above m02, which has
	// "report" once in a longer body.
	hits, err = b.st.SearchMessages(b.ctx, &archive.Query{AccountID: acctA, ArchiveID: arcA, Limit: 10,
		Must: []archive.Term{{Tokens: []string{"report"}}}})
	require.NoError(t, err)
	pos := func(id string) int { return slices.Index(hitIDs(hits), id) }
	require.Less(t, pos("m07"), pos("m02"), "%v", hitIDs(hits))
	for i := 1; i < len(hits); i++ {
		require.GreaterOrEqual(t, hits[i-1].Score, hits[i].Score)
	}
	// Addresses alone are not scored: newest first.
	hits, err = b.st.SearchMessages(b.ctx, &archive.Query{AccountID: acctA, ArchiveID: arcA, Limit: 10,
		Must: []archive.Term{{Field: archive.FieldSender, Tokens: archive.Tokens("bob@corp.example")}}})
	require.NoError(t, err)
	require.Equal(t, []string{"m05", "m02"}, hitIDs(hits))
	for _, h := range hits {
		require.Zero(t, h.Score, h.Message.ID)
	}
	// Nor are phrases (see archive.Query.Scored): newest first, though
	// m01 has the phrase twice. An address phrase beside a word is scored.
	for _, q := range []archive.Query{
		{Must: []archive.Term{{Tokens: []string{"quarterly", "report"}}}},
		{Must: []archive.Term{{Tokens: []string{"revenue"}}}, Not: []archive.Term{{Tokens: []string{"standup", "notes"}}}},
	} {
		q.AccountID, q.ArchiveID, q.Limit = acctA, arcA, 10
		hits, err = b.st.SearchMessages(b.ctx, &q)
		require.NoError(t, err)
		require.Equal(t, []string{"m05", "m01"}, hitIDs(hits))
		for _, h := range hits {
			require.Zero(t, h.Score, h.Message.ID)
		}
	}
	hits, err = b.st.SearchMessages(b.ctx, &archive.Query{AccountID: acctA, ArchiveID: arcA, Limit: 10,
		Must: []archive.Term{{Field: archive.FieldSender, Tokens: archive.Tokens("bob@corp.example")}, {Tokens: []string{"report"}}}})
	require.NoError(t, err)
	require.Equal(t, []string{"m05", "m02"}, hitIDs(hits))
	for _, h := range hits {
		require.Positive(t, h.Score, h.Message.ID)
	}
}

func testArchiveSearchPagination(t *testing.T, b *archiveBundle) {
	for i := range 23 {
		c := corpusMsg{id: fmt.Sprintf("p%02d", i), at: day0.Add(time.Duration(i) * time.Minute),
			subject: "status", body: "weekly status update"}
		m, doc := c.message()
		require.NoError(t, b.st.InsertMessage(b.ctx, m, doc))
	}
	for _, must := range [][]archive.Term{nil, {{Tokens: []string{"status"}}}} {
		var all []string
		for off := 0; ; off += 10 {
			hits, err := b.st.SearchMessages(b.ctx, &archive.Query{AccountID: acctA, ArchiveID: arcA, Must: must, Offset: off, Limit: 10})
			require.NoError(t, err)
			all = append(all, hitIDs(hits)...)
			if len(hits) < 10 {
				break
			}
		}
		require.Len(t, all, 23)
		uniq := slices.Clone(all)
		slices.Sort(uniq)
		require.Len(t, slices.Compact(uniq), 23)
		// Equal scores: newest first.
		require.Equal(t, "p22", all[0])
		require.Equal(t, "p00", all[22])
	}
}

// loadRanked inserts the n messages of testArchiveSearchRankedPages and
// returns their IDs in the order of insertion.
func (b *archiveBundle) loadRanked(t *testing.T, n int) []string {
	var order []string
	for i := range n {
		// Inserted in an order unrelated to time; documents of a group
		// are alike, so their scores tie, in groups larger than a store
		// may take as candidates for a small page.
		k := (i * 37) % n
		body := "alpha" + strings.Repeat(" alpha", k%2) + strings.Repeat(" filler", 3)
		c := corpusMsg{id: fmt.Sprintf("r%03d", k), at: day0.Add(time.Duration(k/3) * time.Minute),
			subject: "note", body: body}
		if k%4 == 0 {
			c.attach = []string{"a.txt"}
		}
		if k%6 == 0 {
			c.body += " omega"
		}
		if k%7 == 0 {
			c.archive = arcB
		}
		m, doc := c.message()
		require.NoError(t, b.st.InsertMessage(b.ctx, m, doc))
		order = append(order, c.id)
	}
	return order
}

// testArchiveSearchRankedPages: a ranked search over more matches than
// a page, with scores tied in groups, filters that leave out most
// matches, negation and messages of another archive in between, gives
// every page of one ordering (score, then newest first, then ID) with
// the scores of the words alone, whatever the order of insertion.
func testArchiveSearchRankedPages(t *testing.T, b *archiveBundle) {
	const n = 300
	b.loadRanked(t, n)
	alpha := []archive.Term{{Tokens: []string{"alpha"}}}
	omega := []archive.Term{{Tokens: []string{"omega"}}}
	yes := true
	all := func(q archive.Query) []archive.Hit {
		t.Helper()
		q.AccountID, q.ArchiveID, q.Offset, q.Limit = acctA, arcA, 0, 1000
		hits, err := b.st.SearchMessages(b.ctx, &q)
		require.NoError(t, err)
		return hits
	}
	for name, q := range map[string]archive.Query{
		"words":                 {Must: alpha},
		"words and attachments": {Must: alpha, HasAttachments: &yes},
		"words and a time":      {Must: alpha, Since: day0.Add(10 * time.Minute), Until: day0.Add(20 * time.Minute)},
		"words but not":         {Must: alpha, Not: omega},
	} {
		whole := all(q)
		require.NotEmpty(t, whole, name)
		for i := 1; i < len(whole); i++ {
			x, y := whole[i-1], whole[i]
			require.True(t, x.Score > y.Score || x.Score == y.Score && (x.Message.ReceivedAt.After(y.Message.ReceivedAt) ||
				x.Message.ReceivedAt.Equal(y.Message.ReceivedAt) && x.Message.ID > y.Message.ID),
				"%s: %s (%v) before %s (%v)", name, x.Message.ID, x.Score, y.Message.ID, y.Score)
		}
		for _, h := range whole {
			require.Equal(t, arcA, h.Message.ArchiveID, name)
			if q.HasAttachments != nil {
				require.True(t, h.Message.HasAttachments, name)
			}
			if !q.Since.IsZero() {
				require.False(t, h.Message.ReceivedAt.Before(q.Since) || !h.Message.ReceivedAt.Before(q.Until), name)
			}
		}
		// Pages of several sizes are slices of the whole.
		for _, size := range []int{1, 7, 20} {
			var paged []archive.Hit
			for off := 0; off < len(whole)+size; off += size {
				q := q
				q.AccountID, q.ArchiveID, q.Offset, q.Limit = acctA, arcA, off, size
				hits, err := b.st.SearchMessages(b.ctx, &q)
				require.NoError(t, err)
				require.LessOrEqual(t, len(hits), size)
				paged = append(paged, hits...)
			}
			require.Equal(t, hitIDs(whole), hitIDs(paged), "%s, pages of %d", name, size)
			for i := range whole {
				require.Equal(t, whole[i].Score, paged[i].Score, "%s, pages of %d", name, size)
			}
		}
	}
	// Negation removes messages and changes no score.
	scores := map[string]float64{}
	for _, h := range all(archive.Query{Must: alpha}) {
		scores[h.Message.ID] = h.Score
	}
	not := all(archive.Query{Must: alpha, Not: omega})
	require.Len(t, not, len(scores)-countOmega(n))
	for _, h := range not {
		require.Equal(t, scores[h.Message.ID], h.Score, h.Message.ID)
	}
}

// testArchiveSearchWindows: matches are ranked by windows, the newest
// (by insertion, not by received time) first, counting only the matches
// of the archive and filters; every page is a slice of that ordering.
func testArchiveSearchWindows(t *testing.T, b *archiveBundle) {
	const n, w = 300, 25
	order := b.loadRanked(t, n)
	alpha := []archive.Term{{Tokens: []string{"alpha"}}}
	omega := []archive.Term{{Tokens: []string{"omega"}}}
	yes := true
	kOf := func(id string) int {
		k, err := strconv.Atoi(id[1:])
		require.NoError(t, err)
		return k
	}
	for name, tc := range map[string]struct {
		q    archive.Query
		keep func(k int) bool
	}{
		"words":                 {archive.Query{Must: alpha}, func(int) bool { return true }},
		"words and attachments": {archive.Query{Must: alpha, HasAttachments: &yes}, func(k int) bool { return k%4 == 0 }},
		"words and a time": {archive.Query{Must: alpha, Since: day0.Add(10 * time.Minute), Until: day0.Add(60 * time.Minute)},
			func(k int) bool { return k/3 >= 10 && k/3 < 60 }},
		"words but not": {archive.Query{Must: alpha, Not: omega}, func(k int) bool { return k%6 != 0 }},
	} {
		var want []string // newest inserted first
		for i := len(order) - 1; i >= 0; i-- {
			if k := kOf(order[i]); k%7 != 0 && tc.keep(k) {
				want = append(want, order[i])
			}
		}
		require.Greater(t, len(want), 2*w, name)
		q := tc.q
		q.AccountID, q.ArchiveID, q.Limit, q.Window = acctA, arcA, 1000, w
		whole, err := b.st.SearchMessages(b.ctx, &q)
		require.NoError(t, err, name)
		require.Len(t, whole, len(want), name)
		for i := 0; i < len(want); i += w {
			end := min(i+w, len(want))
			got := hitIDs(whole[i:end])
			exp := slices.Clone(want[i:end])
			slices.Sort(got)
			slices.Sort(exp)
			require.Equal(t, exp, got, "%s: window %d", name, i/w)
			for j := i + 1; j < end; j++ {
				x, y := whole[j-1], whole[j]
				require.True(t, x.Score > y.Score || x.Score == y.Score && (x.Message.ReceivedAt.After(y.Message.ReceivedAt) ||
					x.Message.ReceivedAt.Equal(y.Message.ReceivedAt) && x.Message.ID > y.Message.ID),
					"%s: %s (%v) before %s (%v)", name, x.Message.ID, x.Score, y.Message.ID, y.Score)
			}
		}
		var paged []archive.Hit
		for off := 0; off < len(whole)+7; off += 7 {
			q.Offset, q.Limit = off, 7
			hits, err := b.st.SearchMessages(b.ctx, &q)
			require.NoError(t, err)
			paged = append(paged, hits...)
		}
		require.Equal(t, hitIDs(whole), hitIDs(paged), name)
	}
}

// countOmega is how many messages of arcA testArchiveSearchRankedPages
// gives the word omega.
func countOmega(n int) int {
	c := 0
	for k := range n {
		if k%6 == 0 && k%7 != 0 {
			c++
		}
	}
	return c
}

func testArchiveDelete(t *testing.T, b *archiveBundle) {
	b.load(t)
	refs, err := b.st.Archives(b.ctx)
	require.NoError(t, err)
	require.Equal(t, []archive.ArchiveRef{{AccountID: acctA, ArchiveID: arcA}, {AccountID: acctA, ArchiveID: arcB}, {AccountID: acctB, ArchiveID: arcA}}, refs)

	old, err := b.st.ArchiveMessages(b.ctx, acctA, arcA, day0.Add(2*time.Hour), 10)
	require.NoError(t, err)
	require.Equal(t, []string{"m01", "m02"}, ids(old))
	page, err := b.st.ArchiveMessages(b.ctx, acctA, arcA, time.Time{}, 3)
	require.NoError(t, err)
	require.Equal(t, []string{"m01", "m02", "m03"}, ids(page))

	require.NoError(t, b.st.DeleteMessages(b.ctx, old))
	require.NoError(t, b.st.DeleteMessages(b.ctx, old), "deleting again is a no-op")
	_, err = b.st.GetMessage(b.ctx, acctA, "m01")
	requireKind(t, err, fault.NotFound)
	hits, err := b.st.SearchMessages(b.ctx, &archive.Query{AccountID: acctA, ArchiveID: arcA, Limit: 10,
		Must: []archive.Term{{Tokens: []string{"report"}}}})
	require.NoError(t, err)
	got := hitIDs(hits)
	slices.Sort(got)
	require.Equal(t, []string{"m05", "m07"}, got)
	// The index forgot them too: a message inserted after finds only itself.
	c := corpusMsg{id: "m10", at: day0, subject: "lunch", body: "lunch"}
	m, doc := c.message()
	require.NoError(t, b.st.InsertMessage(b.ctx, m, doc))
	hits, err = b.st.SearchMessages(b.ctx, &archive.Query{AccountID: acctA, ArchiveID: arcA, Limit: 10,
		Must: []archive.Term{{Tokens: []string{"lunch"}}}})
	require.NoError(t, err)
	require.Equal(t, []string{"m10"}, hitIDs(hits))

	all, err := b.st.ArchiveMessages(b.ctx, acctA, arcB, time.Time{}, 10)
	require.NoError(t, err)
	require.NoError(t, b.st.DeleteMessages(b.ctx, all))
	refs, err = b.st.Archives(b.ctx)
	require.NoError(t, err)
	require.Equal(t, []archive.ArchiveRef{{AccountID: acctA, ArchiveID: arcA}, {AccountID: acctB, ArchiveID: arcA}}, refs)
}

type archiveTestJob struct{ N int }

func (archiveTestJob) Kind() string { return "storetest.archive_job" }

func testArchiveTasks(t *testing.T, b *archiveBundle) {
	at := time.Date(2025, 5, 1, 0, 0, 0, 123456789, time.UTC)
	tk := &archive.Task{AccountID: acctA, Kind: archive.TaskSearch, ID: "s-1", ArchiveID: arcA,
		State: "QUEUED", Request: []byte(`{"x":1}`), SubmittedAt: at}
	require.NoError(t, b.st.CreateTask(b.ctx, tk, archiveTestJob{N: 7}))
	require.Equal(t, at.Truncate(time.Millisecond), tk.SubmittedAt)
	requireKind(t, b.st.CreateTask(b.ctx, tk, nil), fault.Conflict)

	// The job was inserted with the task.
	jobs, err := b.db.Jobs().List(b.ctx, river.NewJobListParams().Kinds("storetest.archive_job").First(10))
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	require.JSONEq(t, `{"N":7}`, string(jobs[0].EncodedArgs))

	got, err := b.st.GetTask(b.ctx, acctA, archive.TaskSearch, "s-1")
	require.NoError(t, err)
	require.Equal(t, tk, got)
	_, err = b.st.GetTask(b.ctx, acctA, archive.TaskExport, "s-1")
	requireKind(t, err, fault.NotFound)
	_, err = b.st.GetTask(b.ctx, acctB, archive.TaskSearch, "s-1")
	requireKind(t, err, fault.NotFound)

	// Conditional updates.
	got.State = "RUNNING"
	ok, err := b.st.UpdateTask(b.ctx, got, "QUEUED")
	require.NoError(t, err)
	require.True(t, ok)
	got.State = "COMPLETED"
	ok, err = b.st.UpdateTask(b.ctx, got, "QUEUED")
	require.NoError(t, err)
	require.False(t, ok)
	got.State, got.Error, got.CompletedAt, got.Total, got.Done = "FAILED", "boom", at.Add(time.Minute), 10, 4
	ok, err = b.st.UpdateTask(b.ctx, got, "QUEUED", "RUNNING")
	require.NoError(t, err)
	require.True(t, ok)
	again, err := b.st.GetTask(b.ctx, acctA, archive.TaskSearch, "s-1")
	require.NoError(t, err)
	require.Equal(t, got, again)
	ok, err = b.st.UpdateTask(b.ctx, &archive.Task{AccountID: acctA, Kind: archive.TaskSearch, ID: "nope", State: "X"})
	require.NoError(t, err)
	require.False(t, ok)
}

func testArchiveTaskHistory(t *testing.T, b *archiveBundle) {
	base := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	for i := range 12 {
		kind := archive.TaskSearch
		if i%4 == 3 {
			kind = archive.TaskExport
		}
		// Two tasks per millisecond: the listing orders by ID within it.
		require.NoError(t, b.st.CreateTask(b.ctx, &archive.Task{AccountID: acctA, Kind: kind, ID: fmt.Sprintf("t%02d", i),
			ArchiveID: arcA, State: "QUEUED", Request: []byte("{}"), SubmittedAt: base.Add(time.Duration(i/2) * time.Hour)}, nil))
	}
	require.NoError(t, b.st.CreateTask(b.ctx, &archive.Task{AccountID: acctA, Kind: archive.TaskSearch, ID: "other",
		ArchiveID: arcB, State: "QUEUED", Request: []byte("{}"), SubmittedAt: base}, nil))

	var got []string
	after := ""
	for {
		page, err := b.st.ListTasks(b.ctx, acctA, arcA, archive.TaskSearch, base, after, 4)
		require.NoError(t, err)
		for _, tk := range page {
			got = append(got, tk.ID)
		}
		if len(page) < 4 {
			break
		}
		after = page[len(page)-1].ID
	}
	require.Equal(t, []string{"t10", "t09", "t08", "t06", "t05", "t04", "t02", "t01", "t00"}, got)
	page, err := b.st.ListTasks(b.ctx, acctA, arcA, archive.TaskSearch, base.Add(4*time.Hour), "", 10)
	require.NoError(t, err)
	require.Len(t, page, 3) // t08 t09 t10
	page, err = b.st.ListTasks(b.ctx, acctA, arcA, archive.TaskExport, base, "", 10)
	require.NoError(t, err)
	require.Len(t, page, 3)

	n, err := b.st.DeleteTasks(b.ctx, base.Add(2*time.Hour))
	require.NoError(t, err)
	require.EqualValues(t, 5, n) // t00–t03 and "other"
	page, err = b.st.ListTasks(b.ctx, acctA, arcA, archive.TaskSearch, base, "", 20)
	require.NoError(t, err)
	require.Len(t, page, 6)

	require.NoError(t, b.st.DeleteArchiveTasks(b.ctx, acctA, arcA))
	page, err = b.st.ListTasks(b.ctx, acctA, arcA, archive.TaskSearch, base, "", 20)
	require.NoError(t, err)
	require.Empty(t, page)
}

func testArchiveSearchResults(t *testing.T, b *archiveBundle) {
	b.load(t)
	tk := &archive.Task{AccountID: acctA, Kind: archive.TaskSearch, ID: "s-1", ArchiveID: arcA, State: "RUNNING", Request: []byte("{}")}
	require.NoError(t, b.st.CreateTask(b.ctx, tk, nil))
	results := []string{"m05", "m01", "m07"}
	for i := range 450 { // more than one INSERT's worth
		results = append(results, fmt.Sprintf("missing%03d", i))
	}
	tk.State = "COMPLETED"
	ok, err := b.st.CompleteSearch(b.ctx, tk, results, "QUEUED")
	require.NoError(t, err)
	require.False(t, ok, "not from RUNNING")
	msgs, err := b.st.SearchResults(b.ctx, acctA, "s-1")
	require.NoError(t, err)
	require.Empty(t, msgs)

	ok, err = b.st.CompleteSearch(b.ctx, tk, results, "RUNNING")
	require.NoError(t, err)
	require.True(t, ok)
	msgs, err = b.st.SearchResults(b.ctx, acctA, "s-1")
	require.NoError(t, err)
	require.Equal(t, []string{"m05", "m01", "m07"}, ids(msgs), "in order; missing ones left out")
	// A message deleted since drops out of the results.
	m01, err := b.st.GetMessage(b.ctx, acctA, "m01")
	require.NoError(t, err)
	require.NoError(t, b.st.DeleteMessages(b.ctx, []*archive.Message{m01}))
	msgs, err = b.st.SearchResults(b.ctx, acctA, "s-1")
	require.NoError(t, err)
	require.Equal(t, []string{"m05", "m07"}, ids(msgs))
	msgs, err = b.st.SearchResults(b.ctx, acctB, "s-1")
	require.NoError(t, err)
	require.Empty(t, msgs)
}
