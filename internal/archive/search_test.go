package archive_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/archive"
	"github.com/tidings/tidings/internal/fault"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
	"github.com/tidings/tidings/internal/model/smithy"
)

// epoch is how the JSON protocol writes a timestamp.
func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func strExpr(attr, op string, values ...string) map[string]any {
	return map[string]any{"StringExpression": map[string]any{
		"Evaluate": map[string]any{"Attribute": attr}, "Operator": op, "Values": values}}
}

func boolExpr(op string) map[string]any {
	return map[string]any{"BooleanExpression": map[string]any{
		"Evaluate": map[string]any{"Attribute": "HAS_ATTACHMENTS"}, "Operator": op}}
}

// loadCorpus archives the samples, one a minute from start, and returns
// their IDs by sample name.
func (b *testBundle) loadCorpus(t *testing.T, arc string, start time.Time) map[string]string {
	t.Helper()
	ids := map[string]string{}
	for i, s := range corpus() {
		rcpt := "bob@corp.example"
		if s.name == "html-only" {
			rcpt = "ops@corp.example"
		}
		ids[s.name] = b.store(t, arc, s.raw, start.Add(time.Duration(i)*time.Minute), rcpt)
	}
	return ids
}

// awaitState polls a search or export until it reaches state.
func (b *testBundle) awaitState(t *testing.T, op, idField, id, state string) map[string]any {
	t.Helper()
	var out map[string]any
	eventually(t, 30*time.Second, func() bool {
		out = b.callOK(op, map[string]any{idField: id})
		return out["Status"].(map[string]any)["State"] == state
	}, op+" "+id+" to be "+state)
	return out
}

// TestSearchOverTheWire: StartArchiveSearch runs as a job and its rows
// come back through GetArchiveSearchResults, all over the AWS protocol.
func TestSearchOverTheWire(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{jobs: true})
	arc := b.archive(t, "wire", "")
	start := b.clock.Now().Add(-time.Hour)
	ids := b.loadCorpus(t, arc, start)
	from, to := epoch(start), epoch(start.Add(time.Hour))

	search := func(filters map[string]any, max int) []map[string]any {
		t.Helper()
		in := map[string]any{"ArchiveId": arc, "FromTimestamp": from, "ToTimestamp": to, "MaxResults": max}
		if filters != nil {
			in["Filters"] = filters
		}
		out := b.callOK("StartArchiveSearch", in)
		sid := out["SearchId"].(string)
		got := b.awaitState(t, "GetArchiveSearch", "SearchId", sid, "COMPLETED")
		require.Equal(t, arc, got["ArchiveId"])
		require.NotNil(t, got["Status"].(map[string]any)["CompletionTimestamp"])
		res := b.callOK("GetArchiveSearchResults", map[string]any{"SearchId": sid})
		var rows []map[string]any
		if res["Rows"] != nil {
			for _, r := range res["Rows"].([]any) {
				rows = append(rows, r.(map[string]any))
			}
		}
		return rows
	}
	names := func(rows []map[string]any) []string {
		var out []string
		for _, r := range rows {
			for name, id := range ids {
				if r["ArchivedMessageId"] == id {
					out = append(out, name)
				}
			}
		}
		return out
	}

	rows := search(nil, 100)
	require.Len(t, rows, len(corpus()))
	require.Equal(t, "no body", names(rows)[0], "newest first")
	// A row has the fields of the model.
	r := rows[len(rows)-1]
	require.Equal(t, ids["plain"], r["ArchivedMessageId"])
	require.Equal(t, "Quarterly budget review", r["Subject"])
	require.Equal(t, "Alice Martin <alice@ext.example>", r["From"])
	require.Equal(t, "Bob <bob@corp.example>", r["To"])
	require.Equal(t, "carol@corp.example", r["Cc"])
	require.Equal(t, "<plain-1@ext.example>", r["MessageId"])
	require.Equal(t, "<earlier@corp.example>", r["InReplyTo"])
	require.Equal(t, "TestMailer 2.0", r["XMailer"])
	require.Equal(t, "Outlook 16", r["XOriginalMailer"])
	require.Equal(t, "1 (Highest)", r["XPriority"])
	require.Equal(t, false, r["HasAttachments"])
	require.Len(t, r["ReceivedHeaders"], 2)
	require.Equal(t, "inp-test", r["IngressPointId"])
	require.Equal(t, "192.0.2.10", r["SenderIpAddress"])
	require.Equal(t, "mx.ext.example", r["SenderHostname"])
	require.Equal(t, epoch(start), r["ReceivedTimestamp"])
	require.Equal(t, map[string]any{"From": "sender@ext.example", "Helo": "mx.ext.example", "To": []any{"bob@corp.example"}}, r["Envelope"])

	require.Empty(t, names(search(map[string]any{"Include": []any{strExpr("SUBJECT", "CONTAINS", "nothing like it")}}, 10)))
	require.Equal(t, []string{"attachment"}, names(search(map[string]any{"Include": []any{strExpr("SUBJECT", "CONTAINS", "INVOICE")}}, 10)))
	require.ElementsMatch(t, []string{"non-ascii headers"}, names(search(map[string]any{"Include": []any{strExpr("FROM", "CONTAINS", "zoë")}}, 10)))
	require.ElementsMatch(t, []string{"attachment", "non-ascii headers", "forwarded", "truncated multipart"},
		names(search(map[string]any{"Include": []any{boolExpr("IS_TRUE")}}, 10)))
	require.ElementsMatch(t, []string{"forwarded", "truncated multipart"},
		names(search(map[string]any{"Include": []any{boolExpr("IS_TRUE"), strExpr("TO", "CONTAINS", "alice", "bob@")}}, 10)))
	require.ElementsMatch(t, []string{"truncated multipart"},
		names(search(map[string]any{"Include": []any{boolExpr("IS_TRUE"), strExpr("TO", "CONTAINS", "alice", "bob@")},
			"Unless": []any{strExpr("SUBJECT", "CONTAINS", "fwd")}}, 10)))
	require.ElementsMatch(t, []string{"html-only"}, names(search(map[string]any{"Include": []any{strExpr("ENVELOPE_TO", "CONTAINS", "ops@")}}, 10)))
	require.Len(t, search(map[string]any{"Include": []any{strExpr("ENVELOPE_FROM", "CONTAINS", "sender@ext")}}, 10), 10)
	require.Equal(t, []string{"no body", "bad base64", "garbage header"}, names(search(nil, 3)), "MaxResults, newest first")
	require.Empty(t, search(nil, 0))

	// The search history lists them, newest first.
	list := b.callOK("ListArchiveSearches", map[string]any{"ArchiveId": arc, "PageSize": 50})
	require.Len(t, list["Searches"], 11)
	for _, s := range list["Searches"].([]any) {
		require.Equal(t, "COMPLETED", s.(map[string]any)["Status"].(map[string]any)["State"])
	}
}

// TestSearchStates: results are a conflict until the search completes; a
// stopped search stays CANCELLED.
func TestSearchStates(t *testing.T) {
	t.Parallel()
	b := setup(t) // no job queue: searches stay QUEUED until run by hand
	arc := b.archive(t, "states", "")
	b.loadCorpus(t, arc, b.clock.Now().Add(-time.Hour))
	in := map[string]any{"ArchiveId": arc, "FromTimestamp": epoch(b.clock.Now().Add(-2 * time.Hour)),
		"ToTimestamp": epoch(b.clock.Now()), "MaxResults": 5}
	sid := b.callOK("StartArchiveSearch", in)["SearchId"].(string)
	got := b.callOK("GetArchiveSearch", map[string]any{"SearchId": sid})
	require.Equal(t, "QUEUED", got["Status"].(map[string]any)["State"])
	require.EqualValues(t, 5, got["MaxResults"])
	require.Equal(t, epoch(b.clock.Now()), got["Status"].(map[string]any)["SubmissionTimestamp"])
	b.callErr("GetArchiveSearchResults", map[string]any{"SearchId": sid}, "ConflictException")

	b.callOK("StopArchiveSearch", map[string]any{"SearchId": sid})
	b.callOK("StopArchiveSearch", map[string]any{"SearchId": sid}) // again: nothing changes
	got = b.callOK("GetArchiveSearch", map[string]any{"SearchId": sid})
	require.Equal(t, "CANCELLED", got["Status"].(map[string]any)["State"])
	// The job, when it runs, leaves a cancelled search alone.
	require.NoError(t, b.svc.RunSearch(context.Background(), archive.SearchArgs{AccountID: acct1, SearchID: sid}))
	got = b.callOK("GetArchiveSearch", map[string]any{"SearchId": sid})
	require.Equal(t, "CANCELLED", got["Status"].(map[string]any)["State"])
	b.callErr("GetArchiveSearchResults", map[string]any{"SearchId": sid}, "ConflictException")

	sid2 := b.callOK("StartArchiveSearch", in)["SearchId"].(string)
	require.NoError(t, b.svc.RunSearch(context.Background(), archive.SearchArgs{AccountID: acct1, SearchID: sid2}))
	res := b.callOK("GetArchiveSearchResults", map[string]any{"SearchId": sid2})
	require.Len(t, res["Rows"], 5)
	b.callErr("StopArchiveSearch", map[string]any{"SearchId": sid2}, "ConflictException")

	b.callErr("GetArchiveSearch", map[string]any{"SearchId": "no-such-search"}, "ResourceNotFoundException")
	b.callErr("GetArchiveSearchResults", map[string]any{"SearchId": "no-such-search"}, "ResourceNotFoundException")
	// Another account does not see it.
	_, err := b.svc.GetArchiveSearch(b.ctx2, &mm.GetArchiveSearchRequest{SearchId: p(sid2)})
	requireFault(t, err, fault.NotFound)
}

// TestSearchBadInput: the exceptions AWS gives.
func TestSearchBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	arc := b.archive(t, "bad", "")
	now := b.clock.Now()
	base := func() map[string]any {
		return map[string]any{"ArchiveId": arc, "FromTimestamp": epoch(now.Add(-time.Hour)), "ToTimestamp": epoch(now), "MaxResults": 10}
	}
	with := func(k string, v any) map[string]any {
		m := base()
		m[k] = v
		return m
	}
	b.callErr("StartArchiveSearch", with("ToTimestamp", epoch(now.Add(-2*time.Hour))), "ValidationException")
	b.callErr("StartArchiveSearch", with("ToTimestamp", epoch(now.Add(-time.Hour))), "ValidationException")
	b.callErr("StartArchiveSearch", with("MaxResults", 1001), "ValidationException")
	b.callErr("StartArchiveSearch", with("ArchiveId", "a-doesnotexist"), "ResourceNotFoundException")
	var eleven []any
	for range 11 {
		eleven = append(eleven, strExpr("TO", "CONTAINS", "x"))
	}
	b.callErr("StartArchiveSearch", with("Filters", map[string]any{"Include": eleven}), "ValidationException")
	b.callErr("StartArchiveSearch", with("Filters", map[string]any{"Unless": eleven}), "ValidationException")
	b.callErr("StartArchiveSearch", with("Filters", map[string]any{"Include": []any{strExpr("TO", "CONTAINS")}}), "ValidationException")
	b.callErr("StartArchiveSearch", with("Filters", map[string]any{"Include": []any{strExpr("BODY", "CONTAINS", "x")}}), "ValidationException")
	b.callErr("StartArchiveSearch", with("Filters", map[string]any{"Include": []any{map[string]any{}}}), "ValidationException")
	b.callErr("StartArchiveExport", map[string]any{"ArchiveId": arc, "FromTimestamp": epoch(now), "ToTimestamp": epoch(now.Add(-time.Hour)),
		"ExportDestinationConfiguration": map[string]any{"S3": map[string]any{"S3Location": "s3://bucket/x"}}}, "ValidationException")
	b.callErr("ListArchiveSearches", map[string]any{"ArchiveId": "a-doesnotexist"}, "ResourceNotFoundException")

	// The domain checks what the model says for callers that skip the
	// wire layer, too.
	var conds []mm.ArchiveFilterCondition
	for range 11 {
		conds = append(conds, mm.ArchiveFilterCondition{BooleanExpression: &mm.ArchiveBooleanExpression{
			Evaluate: &mm.ArchiveBooleanToEvaluate{Attribute: p(mm.ArchiveBooleanEmailAttributeHasAttachments)},
			Operator: p(mm.ArchiveBooleanOperatorIsTrue)}})
	}
	_, err := b.svc.StartArchiveSearch(b.ctx, &mm.StartArchiveSearchRequest{ArchiveId: p(arc),
		FromTimestamp: smithy.NewTime(now.Add(-time.Hour)), ToTimestamp: smithy.NewTime(now), MaxResults: p(int64(1)),
		Filters: &mm.ArchiveFilters{Include: conds}})
	requireFault(t, err, fault.Invalid, "Too many filters")
}

func TestSearchHistory(t *testing.T) {
	t.Parallel()
	b := setup(t)
	arc := b.archive(t, "hist", "")
	other := b.archive(t, "other", "")
	start := func(archiveID string) string {
		out, err := b.svc.StartArchiveSearch(b.ctx, &mm.StartArchiveSearchRequest{ArchiveId: p(archiveID),
			FromTimestamp: smithy.NewTime(b.clock.Now().Add(-time.Hour)), ToTimestamp: smithy.NewTime(b.clock.Now()), MaxResults: p(int64(1))})
		require.NoError(t, err)
		return *out.SearchId
	}
	var want []string
	for i := range 7 {
		want = append(want, start(arc))
		start(other)
		b.clock.Advance(time.Duration(i+1) * 24 * time.Hour)
	}
	slices.Reverse(want)
	// Pages of 3 over the wire.
	var got []string
	token := ""
	for {
		in := map[string]any{"ArchiveId": arc, "PageSize": 3}
		if token != "" {
			in["NextToken"] = token
		}
		out := b.callOK("ListArchiveSearches", in)
		for _, s := range out["Searches"].([]any) {
			got = append(got, s.(map[string]any)["SearchId"].(string))
		}
		if out["NextToken"] == nil {
			break
		}
		token = out["NextToken"].(string)
	}
	// 28 days passed: all within 30 days.
	require.Equal(t, want, got)
	b.callErr("ListArchiveSearches", map[string]any{"ArchiveId": other, "NextToken": token}, "ValidationException")

	// Three days on, the first is older than 30 days: no longer listed,
	// and the retention job forgets it.
	b.clock.Advance(3 * 24 * time.Hour)
	out := b.callOK("ListArchiveSearches", map[string]any{"ArchiveId": arc, "PageSize": 50})
	require.Len(t, out["Searches"], 6)
	_, err := b.svc.RunRetention(context.Background())
	require.NoError(t, err)
	b.callErr("GetArchiveSearch", map[string]any{"SearchId": want[6]}, "ResourceNotFoundException")
	b.callOK("GetArchiveSearch", map[string]any{"SearchId": want[5]})
}

// TestExport: an export writes every selected message, byte for byte, and
// its metadata, where S3Location says in the blob store.
func TestExport(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{jobs: true})
	arc := b.archive(t, "exp", "")
	start := b.clock.Now().Add(-time.Hour)
	ids := b.loadCorpus(t, arc, start)
	out := b.callOK("StartArchiveExport", map[string]any{
		"ArchiveId": arc, "FromTimestamp": epoch(start), "ToTimestamp": epoch(b.clock.Now()),
		"Filters":                        map[string]any{"Unless": []any{strExpr("SUBJECT", "CONTAINS", "headers only")}},
		"ExportDestinationConfiguration": map[string]any{"S3": map[string]any{"S3Location": "s3://audit-bucket/case-42/"}},
		"IncludeMetadata":                true,
	})
	eid := out["ExportId"].(string)
	got := b.awaitState(t, "GetArchiveExport", "ExportId", eid, "COMPLETED")
	require.Equal(t, arc, got["ArchiveId"])
	require.Equal(t, "s3://audit-bucket/case-42/", got["ExportDestinationConfiguration"].(map[string]any)["S3"].(map[string]any)["S3Location"])

	prog, err := b.svc.Progress(context.Background(), acct1, eid)
	require.NoError(t, err)
	require.EqualValues(t, len(ids)-1, prog.Total)
	require.EqualValues(t, len(ids)-1, prog.Exported)
	base := "exports/audit-bucket/case-42/" + eid + "/"
	require.Equal(t, base, prog.Location)

	for _, s := range corpus() {
		id := ids[s.name]
		rc, _, err := b.blobs.Get(context.Background(), base+id+".eml")
		if s.name == "no body" {
			requireFault(t, err, fault.NotFound)
			continue
		}
		require.NoError(t, err, s.name)
		body, err := io.ReadAll(rc)
		rc.Close()
		require.NoError(t, err)
		require.Equal(t, s.raw, body, s.name)
		rc, _, err = b.blobs.Get(context.Background(), base+id+".metadata.json")
		require.NoError(t, err)
		var meta map[string]any
		require.NoError(t, json.NewDecoder(rc).Decode(&meta))
		rc.Close()
		require.Equal(t, id, meta["ArchivedMessageId"])
		require.Equal(t, s.subject, meta["Subject"])
		require.Equal(t, s.malformed, meta["MessageMalformed"] == true)
		require.Equal(t, "inp-test", meta["Metadata"].(map[string]any)["IngressPointId"])
	}

	list := b.callOK("ListArchiveExports", map[string]any{"ArchiveId": arc})
	require.Len(t, list["Exports"], 1)
	require.Equal(t, eid, list["Exports"].([]any)[0].(map[string]any)["ExportId"])

	// Finished: stopping it is a conflict.
	b.callErr("StopArchiveExport", map[string]any{"ExportId": eid}, "ConflictException")
	b.callErr("GetArchiveExport", map[string]any{"ExportId": "nope"}, "ResourceNotFoundException")
}

func TestExportStopAndLimits(t *testing.T) {
	t.Parallel()
	b := setup(t)
	arc := b.archive(t, "exp2", "")
	start := b.clock.Now().Add(-24 * time.Hour)
	for i, raw := range generated(250, 1) {
		b.store(t, arc, raw, start.Add(time.Duration(i)*time.Second))
	}
	dest := &mm.ExportDestinationConfiguration{S3: &mm.S3ExportDestinationConfiguration{S3Location: p("s3://b/p")}}
	exp := func(max *int64) string {
		out, err := b.svc.StartArchiveExport(b.ctx, &mm.StartArchiveExportRequest{ArchiveId: p(arc),
			FromTimestamp: smithy.NewTime(start), ToTimestamp: smithy.NewTime(b.clock.Now()),
			MaxResults: max, ExportDestinationConfiguration: dest})
		require.NoError(t, err)
		return *out.ExportId
	}
	// MaxResults: the newest n.
	e1 := exp(p(int64(120)))
	require.NoError(t, b.svc.RunExport(context.Background(), archive.ExportArgs{AccountID: acct1, ExportID: e1}))
	keys, err := b.blobs.List(context.Background(), "exports/b/p/"+e1+"/", "", 0)
	require.NoError(t, err)
	require.Len(t, keys, 120, "no metadata files without IncludeMetadata")
	prog, err := b.svc.Progress(context.Background(), acct1, e1)
	require.NoError(t, err)
	require.Equal(t, mm.ExportStateCompleted, prog.State)
	require.EqualValues(t, 120, prog.Exported)

	// Stopped before it runs: CANCELLED, nothing written.
	e2 := exp(nil)
	_, err = b.svc.StopArchiveExport(b.ctx, &mm.StopArchiveExportRequest{ExportId: p(e2)})
	require.NoError(t, err)
	require.NoError(t, b.svc.RunExport(context.Background(), archive.ExportArgs{AccountID: acct1, ExportID: e2}))
	got, err := b.svc.GetArchiveExport(b.ctx, &mm.GetArchiveExportRequest{ExportId: p(e2)})
	require.NoError(t, err)
	require.Equal(t, mm.ExportStateCancelled, *got.Status.State)
	keys, err = b.blobs.List(context.Background(), "exports/b/p/"+e2+"/", "", 0)
	require.NoError(t, err)
	require.Empty(t, keys)

	// A destination the blob store cannot name.
	_, err = b.svc.StartArchiveExport(b.ctx, &mm.StartArchiveExportRequest{ArchiveId: p(arc),
		FromTimestamp: smithy.NewTime(start), ToTimestamp: smithy.NewTime(b.clock.Now()),
		ExportDestinationConfiguration: &mm.ExportDestinationConfiguration{S3: &mm.S3ExportDestinationConfiguration{S3Location: p("s3://b/../etc")}}})
	requireFault(t, err, fault.Invalid)
}

// TestNativeSearch: the query language, ranking and pagination over a
// generated corpus, and the HTTP handler.
func TestNativeSearch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	arc := b.archive(t, "native", "")
	b.loadCorpus(t, arc, b.clock.Now().Add(-48*time.Hour))
	day := b.clock.Now().Add(-24 * time.Hour).Truncate(24 * time.Hour)
	msgs := generated(60, 7)
	for i, raw := range msgs {
		b.store(t, arc, raw, day.Add(time.Duration(i)*time.Minute))
	}
	count := func(q string) int {
		t.Helper()
		n, token := 0, ""
		for {
			res, err := b.svc.SearchNative(b.ctx, acct1, arc, q, 7, token)
			require.NoError(t, err, q)
			n += len(res.Messages)
			if res.NextPageToken == "" {
				return n
			}
			token = res.NextPageToken
		}
	}
	// Count by hand what the generator made.
	subjects := map[string]int{}
	fromBob := 0
	for _, raw := range msgs {
		s := string(raw)
		for _, topic := range []string{"budget", "roadmap", "hiring", "offsite", "security", "invoice"} {
			if strings.Contains(s, "Subject: "+topic) {
				subjects[topic]++
			}
		}
		if strings.Contains(s, "From: bob@corp.example") {
			fromBob++
		}
	}
	require.Equal(t, len(corpus())+60, count(""))
	require.Equal(t, subjects["roadmap"], count("subject:roadmap"))
	require.Equal(t, subjects["hiring"]+subjects["offsite"], count("subject:hiring")+count("subject:offsite"))
	require.Equal(t, 60-subjects["security"], count("team -subject:security"))
	require.Equal(t, fromBob+1, count("from:bob@corp.example"), "the generated ones and the forwarded sample")
	require.Equal(t, 60, count("after:"+day.Format("2006-01-02")))
	require.Equal(t, len(corpus()), count("before:"+day.Format("2006-01-02")))
	require.Equal(t, 1, count(`has:attachment subject:"invoice 2026"`))
	require.Equal(t, 4, count("has:attachment"))
	require.Equal(t, len(corpus())+60-4, count("-has:attachment"))

	// Page tokens belong to their query.
	res, err := b.svc.SearchNative(b.ctx, acct1, arc, "team", 5, "")
	require.NoError(t, err)
	require.NotEmpty(t, res.NextPageToken)
	_, err = b.svc.SearchNative(b.ctx, acct1, arc, "other", 5, res.NextPageToken)
	requireFault(t, err, fault.Invalid, "page_token")
	_, err = b.svc.SearchNative(b.ctx, acct1, arc, "before:yesterday", 5, "")
	requireFault(t, err, fault.Invalid, "bad date")
	_, err = b.svc.SearchNative(b.ctx, acct1, "a-none", "x", 5, "")
	requireFault(t, err, fault.NotFound)
	_, err = b.svc.SearchNative(b.ctx2, acct2, arc, "x", 5, "")
	requireFault(t, err, fault.NotFound)

	// Over HTTP.
	get := func(account, path string) (int, map[string]any) {
		req, err := newRequest(b.dl+path, account)
		require.NoError(t, err)
		return doJSON(t, req)
	}
	status, body := get(acct1, archive.NativePrefix+arc+"/messages?q=subject%3Aroadmap&page_size=2")
	require.Equal(t, 200, status, "%v", body)
	require.Len(t, body["messages"], min(2, subjects["roadmap"]))
	m0 := body["messages"].([]any)[0].(map[string]any)
	require.Contains(t, strings.ToLower(m0["subject"].(string)), "roadmap")
	require.NotEmpty(t, m0["id"])
	require.NotEmpty(t, m0["received_at"])
	status, body = get("", archive.NativePrefix+arc+"/messages?q=x")
	require.Equal(t, 403, status)
	require.Equal(t, "AccessDenied", body["error"].(map[string]any)["code"])
	status, _ = get(acct2, archive.NativePrefix+arc+"/messages?q=x")
	require.Equal(t, 404, status)
	status, body = get(acct1, archive.NativePrefix+arc+"/messages?q=after%3Anope")
	require.Equal(t, 400, status)
	require.Equal(t, "ValidationError", body["error"].(map[string]any)["code"])
	status, _ = get(acct1, archive.NativePrefix+arc+"/messages?page_size=-1")
	require.Equal(t, 400, status)
	status, _ = get(acct1, archive.NativePrefix+arc+"/other")
	require.Equal(t, 404, status)
}

func TestParseQuery(t *testing.T) {
	t.Parallel()
	q, err := archive.ParseQuery(`Budget "Second  Look" from:alice@ext.example -to:bob subject:"due today" has:attachment after:2026-01-02 before:2026/02/03 -spam re:fwd`)
	require.NoError(t, err)
	require.Equal(t, []archive.Term{
		{Field: archive.FieldAny, Tokens: []string{"budget"}},
		{Field: archive.FieldAny, Tokens: []string{"second", "look"}},
		{Field: archive.FieldSender, Tokens: []string{"alice", "ext", "example"}},
		{Field: archive.FieldSubject, Tokens: []string{"due", "today"}},
		{Field: archive.FieldAny, Tokens: []string{"re", "fwd"}},
	}, q.Must)
	require.Equal(t, []archive.Term{
		{Field: archive.FieldRecipients, Tokens: []string{"bob"}},
		{Field: archive.FieldAny, Tokens: []string{"spam"}},
	}, q.Not)
	require.True(t, *q.HasAttachments)
	require.Equal(t, time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), q.Since)
	require.Equal(t, time.Date(2026, 2, 3, 0, 0, 0, 0, time.UTC), q.Until)

	q, err = archive.ParseQuery(`-has:attachment "unterminated phrase`)
	require.NoError(t, err)
	require.False(t, *q.HasAttachments)
	require.Equal(t, []string{"unterminated", "phrase"}, q.Must[0].Tokens)

	q, err = archive.ParseQuery(`  -  --- "" :: `)
	require.NoError(t, err)
	require.Empty(t, q.Must)
	require.Empty(t, q.Not)

	for _, bad := range []string{"after:2026-13-01", "has:wings", "after:2026-02-01 before:2026-01-01", "-before:2026-01-01",
		strings.Repeat("w ", 40), strings.Repeat("x", 3000)} {
		_, err := archive.ParseQuery(bad)
		requireFault(t, err, fault.Invalid)
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][]string{
		"Hello, World!":           {"hello", "world"},
		"Résumé Zoë Ærø Straße":   {"resume", "zoe", "aero", "strasse"},
		"alice@corp.example":      {"alice", "corp", "example"},
		"ＦＵＬＬ width ﬁle":          {"full", "width", "file"},
		"東京都で会議":                  {"東", "京", "都", "で", "会", "議"},
		"invoice-2026_031.pdf":    {"invoice", "2026", "031", "pdf"},
		"Ελληνικά κείμενα Привет": {"ελληνικα", "κειμενα", "привет"},
		"\xff\xfebad\x00bytes":    {"bad", "bytes"},
		strings.Repeat("a", 65):   nil,
		"":                        nil,
	} {
		require.Equal(t, want, nilIfEmpty(archive.Tokens(in)), "%q", in)
	}
	d := archive.NewDocument("s", nil, nil, nil, strings.Repeat("word ", archive.MaxIndexTokens*2))
	require.Len(t, d.Body, archive.MaxIndexTokens-1)
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func TestArchiveIDs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	arc := b.archive(t, "ids", "")
	seen := map[string]bool{}
	var prev string
	for i := range 20 {
		id := b.store(t, arc, []byte(fmt.Sprintf("Subject: %d\r\n\r\nx\r\n", i)), b.clock.Now().Add(time.Duration(i)*time.Millisecond))
		require.False(t, seen[id])
		seen[id] = true
		require.Greater(t, id, prev, "IDs sort by receipt time")
		prev = id
	}
}
