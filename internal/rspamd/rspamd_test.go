package rspamd

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The answers of rspamd 3.4 (Debian bookworm) to a GTUBE message and to a
// plain one, as the real worker gave them.
const (
	gtubeAnswer = `{"is_skipped":true,"score":15.0,"required_score":15.0,"action":"reject","symbols":{"GTUBE":{"name":"GTUBE","score":0.0,"metric_score":0.0}},"messages":{"smtp_message":"Gtube pattern"},"message-id":"undef","time_real":0.475794}`
	cleanAnswer = `{"is_skipped":false,"score":0.900000,"required_score":15.0,"action":"no action","symbols":{"ARC_NA":{"name":"ARC_NA","score":0.0,"metric_score":0.0,"description":"ARC signature absent"},"FROM_NO_DN":{"name":"FROM_NO_DN","score":0.0,"metric_score":0.0,"description":"From header does not have a display name"},"DATE_IN_PAST":{"name":"DATE_IN_PAST","score":1.0,"metric_score":1.0,"description":"Message date is in past","options":["25444"]},"MIME_GOOD":{"name":"MIME_GOOD","score":-0.100000,"metric_score":-0.100000,"description":"Known content-type","options":["text/plain"]}},"messages":{},"message-id":"1@example.com","time_real":0.029121,"milter":{"remove_headers":{"X-Spam":0}}}`
)

// fakeRspamd speaks /checkv2: it records the request and answers with
// answer (or status and body when status is not 200).
type fakeRspamd struct {
	mu     sync.Mutex
	status int
	answer string
	delay  chan struct{} // when set, the handler waits on it
	got    []*http.Request
	bodies []string
}

func (f *fakeRspamd) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/checkv2" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.got = append(f.got, r)
	f.bodies = append(f.bodies, string(b))
	status, answer, delay := f.status, f.answer, f.delay
	f.mu.Unlock()
	if delay != nil {
		select {
		case <-delay:
		case <-r.Context().Done():
			return
		}
	}
	if status != 0 && status != http.StatusOK {
		http.Error(w, answer, status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, answer)
}

func start(t *testing.T, f *fakeRspamd) *Client {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return New(srv.URL+"/", 5*time.Second)
}

const msg = "From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nhello\r\n"

func TestCheckSendsTheEnvelopeAndReadsTheResult(t *testing.T) {
	t.Parallel()
	f := &fakeRspamd{answer: gtubeAnswer}
	c := start(t, f)
	r, err := c.Check(context.Background(), strings.NewReader(msg), int64(len(msg)), Meta{
		IP:       netip.MustParseAddr("::ffff:192.0.2.7"),
		Helo:     "mail.example.com",
		From:     "a@example.com",
		Rcpt:     []string{"b@example.org", "c@example.org"},
		Hostname: "mail.example.com",
		User:     "alice",
		QueueID:  "q1",
	})
	require.NoError(t, err)
	require.Equal(t, "reject", r.Action)
	require.Equal(t, 15.0, r.Score)
	require.True(t, r.IsSkipped)
	require.Contains(t, r.Symbols, "GTUBE")

	require.Len(t, f.got, 1)
	h := f.got[0].Header
	require.Equal(t, "192.0.2.7", h.Get("IP"), "a v4-mapped address is sent as IPv4")
	require.Equal(t, "mail.example.com", h.Get("Helo"))
	require.Equal(t, "a@example.com", h.Get("From"))
	require.Equal(t, []string{"b@example.org", "c@example.org"}, h.Values("Rcpt"))
	require.Equal(t, "mail.example.com", h.Get("Hostname"))
	require.Equal(t, "alice", h.Get("User"))
	require.Equal(t, "q1", h.Get("Queue-Id"))
	require.Equal(t, int64(len(msg)), f.got[0].ContentLength)
	require.Equal(t, msg, f.bodies[0])
}

func TestCheckOmitsWhatIsUnknown(t *testing.T) {
	t.Parallel()
	f := &fakeRspamd{answer: cleanAnswer}
	c := start(t, f)
	// Unknown size: the message is buffered and its length sent.
	r, err := c.Check(context.Background(), io.MultiReader(strings.NewReader(msg)), -1, Meta{NullFrom: true, Helo: "bad\r\nX-Injected: 1"})
	require.NoError(t, err)
	require.Equal(t, "no action", r.Action)
	h := f.got[0].Header
	for _, k := range []string{"IP", "Rcpt", "Hostname", "User", "Queue-Id"} {
		require.Empty(t, h.Values(k), k)
	}
	require.Equal(t, "<>", h.Get("From"), "the null sender")
	require.Equal(t, "badX-Injected: 1", h.Get("Helo"), "no line break reaches the header")
	require.Empty(t, h.Get("X-Injected"))
	require.Equal(t, int64(len(msg)), f.got[0].ContentLength)
}

func TestCheckFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name, answer string
		status       int
		want         string
	}{
		{"server error", "worker busy", 500, "HTTP 500: worker busy"},
		{"not JSON", "<html>proxy</html>", 200, "not rspamd's JSON"},
		{"error object", `{"error":"cannot parse message"}`, 200, "cannot parse message"},
		{"no action", `{"score":1}`, 200, "no action in the answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := start(t, &fakeRspamd{status: tc.status, answer: tc.answer})
			_, err := c.Check(ctx, strings.NewReader(msg), int64(len(msg)), Meta{})
			var re *Error
			require.ErrorAs(t, err, &re)
			require.ErrorContains(t, err, tc.want)
		})
	}

	t.Run("nothing listens", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		_, err := New(url, time.Second).Check(ctx, strings.NewReader(msg), int64(len(msg)), Meta{})
		var re *Error
		require.ErrorAs(t, err, &re)
		require.ErrorContains(t, err, "rspamd check")
	})

	t.Run("too slow", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		defer close(release)
		f := &fakeRspamd{answer: cleanAnswer, delay: release}
		srv := httptest.NewServer(f)
		defer srv.Close()
		_, err := New(srv.URL, time.Second).Check(ctx, strings.NewReader(msg), int64(len(msg)), Meta{})
		require.ErrorContains(t, err, "no answer within 1s")
	})

	t.Run("caller gives up", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		defer close(release)
		f := &fakeRspamd{answer: cleanAnswer, delay: release}
		c := start(t, f)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := c.Check(cctx, strings.NewReader(msg), int64(len(msg)), Meta{})
		require.True(t, errors.Is(err, context.Canceled), "%v", err)
	})
}

func TestFields(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		action         string
		verdict        string
		spam           bool
		skipped        bool
		score, symbols string
	}{
		{"no action", "PASS", false, false, "0.9", "ARC_NA DATE_IN_PAST"},
		{"greylist", "GRAY", false, false, "4", ""},
		{"add header", "GRAY", true, false, "8.3", ""},
		{"rewrite subject", "GRAY", true, false, "8.3", ""},
		{"soft reject", "GRAY", true, false, "0", ""},
		{"reject", "FAIL", true, true, "15", "GTUBE"},
		{"discard", "FAIL", true, false, "20", ""},
	} {
		r := &Result{Action: tc.action, IsSkipped: tc.skipped, RequiredScore: 15, Symbols: map[string]Symbol{}}
		for _, s := range strings.Fields(tc.symbols) {
			r.Symbols[s] = Symbol{Name: s}
		}
		switch tc.score {
		case "0.9":
			r.Score = 0.9
		case "4":
			r.Score = 4
		case "8.3":
			r.Score = 8.3
		case "15":
			r.Score = 15
		case "20":
			r.Score = 20
		}
		get := func(f string) string {
			v, err := r.Field(f)
			require.NoError(t, err, f)
			return v
		}
		require.Equal(t, tc.verdict, get("verdict"), tc.action)
		require.Equal(t, tc.verdict, get("addon.VERDICT"), "prefix and case are ignored")
		require.Equal(t, map[bool]string{true: "true", false: "false"}[tc.spam], get("is_spam"), tc.action)
		require.Equal(t, map[bool]string{true: "true", false: "false"}[tc.skipped], get("is_skipped"), tc.action)
		require.Equal(t, tc.action, get("action"))
		require.Equal(t, tc.score, get("score"))
		require.Equal(t, "15", get("required_score"))
		require.Equal(t, tc.symbols, get("symbols"))
	}
	_, err := (&Result{Action: "reject"}).Field("is_virus")
	require.ErrorContains(t, err, `no result field "is_virus"`)
}

func TestCheckField(t *testing.T) {
	t.Parallel()
	require.NoError(t, CheckField("verdict", KindVerdict))
	require.NoError(t, CheckField("addon.is_spam", KindBoolean))
	require.NoError(t, CheckField("Action", KindString))
	require.NoError(t, CheckField("verdict", KindString), "any field reads as text")
	require.ErrorContains(t, CheckField("action", KindVerdict), "use verdict")
	require.ErrorContains(t, CheckField("score", KindBoolean), "use is_skipped or is_spam")
	require.ErrorContains(t, CheckField("is_virus", KindBoolean), "valid fields: action, is_skipped, is_spam, required_score, score, symbols, verdict")
}
