package events

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
)

func TestSignVector(t *testing.T) {
	t.Parallel()
	// Computed independently:
	//   printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
	got := Sign("whsec_test", 1700000000, []byte(`{"a":1}`))
	require.Equal(t, "v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789", got)
	m := hmac.New(sha256.New, []byte("whsec_test"))
	m.Write([]byte(`1700000000.{"a":1}`))
	require.Equal(t, "v1="+hex.EncodeToString(m.Sum(nil)), got)
	// The timestamp is signed: another one gives another signature.
	require.NotEqual(t, got, Sign("whsec_test", 1700000001, []byte(`{"a":1}`)))
	require.NotEqual(t, got, Sign("whsec_other", 1700000000, []byte(`{"a":1}`)))
}

func TestVerify(t *testing.T) {
	t.Parallel()
	now := time.Unix(1700000000, 0)
	body := []byte("hello")
	sig := Sign("secret-0123456789", now.Unix(), body)
	require.NoError(t, Verify("secret-0123456789", sig, "1700000000", body, now, 5*time.Minute))
	// Several schemes in the header: the v1 one is found.
	require.NoError(t, Verify("secret-0123456789", "v0=abc, "+sig, "1700000000", body, now, 5*time.Minute))
	require.Error(t, Verify("secret-0123456789", sig, "1700000000", []byte("hellO"), now, 5*time.Minute), "body changed")
	require.Error(t, Verify("wrong-secret-000000", sig, "1700000000", body, now, 5*time.Minute))
	require.Error(t, Verify("secret-0123456789", sig, "1700000001", body, now, 5*time.Minute), "timestamp changed")
	require.Error(t, Verify("secret-0123456789", sig, "1700000000", body, now.Add(6*time.Minute), 5*time.Minute), "replayed late")
	require.Error(t, Verify("secret-0123456789", sig, "x", body, now, 0))
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	b := Backoff{First: time.Second, Max: 10 * time.Second}
	for n, full := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 50: 10 * time.Second} {
		seen := map[time.Duration]bool{}
		for range 200 {
			d := b.Delay(n)
			require.GreaterOrEqual(t, d, full/2, "attempt %d", n)
			require.LessOrEqual(t, d, full, "attempt %d", n)
			seen[d] = true
		}
		require.Greater(t, len(seen), 1, "attempt %d: no jitter", n)
	}
	def := Backoff{}.withDefaults()
	require.Equal(t, 5*time.Second, def.First)
	require.Equal(t, time.Hour, def.Max)
}

func TestRedirects(t *testing.T) {
	t.Parallel()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the redirect to another host was followed: %s %s", r.Method, r.URL)
	}))
	t.Cleanup(other.Close)
	var sameHostPosts int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/elsewhere":
			http.Redirect(w, r, other.URL+"/x", http.StatusTemporaryRedirect)
		case "/found":
			http.Redirect(w, r, "/final", http.StatusFound) // would turn the POST into a GET
		case "/moved":
			http.Redirect(w, r, "/final", http.StatusPermanentRedirect)
		case "/final":
			if r.Method == http.MethodPost {
				sameHostPosts++
			}
			w.WriteHeader(http.StatusNoContent)
		case "/big":
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(strings.Repeat("x", 1<<20)))
		}
	}))
	t.Cleanup(srv.Close)
	s := &Service{http: NewHTTPClient(5 * time.Second)}
	post := func(path string) attemptResult {
		return s.post(t.Context(), srv.URL+path, []byte("{}"), http.Header{}, maxAnswerBytes)
	}
	res := post("/elsewhere")
	require.ErrorIs(t, res.err, ErrRedirect)
	require.Contains(t, res.err.Error(), "another host")
	res = post("/found")
	require.ErrorIs(t, res.err, ErrRedirect, "a 302 would lose the body")
	res = post("/moved")
	require.NoError(t, res.err, "a 308 on the same host keeps the POST")
	require.Equal(t, 1, sameHostPosts)
	res = post("/big")
	require.Error(t, res.err)
	require.Equal(t, 500, res.status)
	require.Len(t, res.body, maxAnswerBytes, "the answer is read bounded")
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	s := &Service{http: NewHTTPClient(200 * time.Millisecond)}
	res := s.post(t.Context(), srv.URL, []byte("{}"), http.Header{}, maxAnswerBytes)
	require.Error(t, res.err)
	require.Zero(t, res.status)
}

func TestTopicFromARN(t *testing.T) {
	t.Parallel()
	const acct = "111122223333"
	for arn, want := range map[string]string{
		"arn:aws:sns:us-east-1:111122223333:orders":                  "orders",
		"arn:aws:sns:eu-west-3:111122223333:orders.fifo":             "orders.fifo",
		"arn:aws:events:us-east-1:111122223333:event-bus/orders":     "orders",
		"arn:aws-cn:events:cn-north-1:111122223333:event-bus/my_bus": "my_bus",
		"orders": "orders",
	} {
		got, err := TopicFromARN(acct, arn)
		require.NoError(t, err, arn)
		require.Equal(t, want, got, arn)
	}
	for arn, kind := range map[string]fault.Kind{
		"arn:aws:sns:us-east-1:999999999999:orders":           fault.AccessDenied,
		"arn:aws:sqs:us-east-1:111122223333:orders":           fault.Invalid,
		"arn:aws:events:us-east-1:111122223333:rule/orders":   fault.Invalid,
		"arn:aws:events:us-east-1:111122223333:event-bus/a/b": fault.Invalid,
		"arn:aws:sns:us-east-1:111122223333":                  fault.Invalid,
		"arn:aws:sns:us-east-1:111122223333:":                 fault.Invalid,
		"arn:aws:sns:us-east-1:111122223333:has space":        fault.Invalid,
		"not a name": fault.Invalid,
		"arn:aws:sns:us-east-1:111122223333:" + strings.Repeat("x", 257): fault.Invalid,
	} {
		_, err := TopicFromARN(acct, arn)
		require.Equal(t, kind, fault.KindOf(err), "%s: %v", arn, err)
	}
}

func TestValidateWebhookURL(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"http://127.0.0.1:8080/hook", "https://hooks.example.com/x?a=b"} {
		require.NoError(t, ValidateWebhookURL(ok), ok)
	}
	for _, bad := range []string{"", "ftp://x/y", "http:///path", "https://user:pw@x/", "https://x/#frag", "/relative", "https://x/" + strings.Repeat("a", 2100)} {
		require.True(t, fault.Is(ValidateWebhookURL(bad), fault.Invalid), bad)
	}
}

func TestEventIDsSortByTime(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	a, b := newEventID(t0), newEventID(t0.Add(time.Millisecond))
	require.Less(t, a, b)
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, a)
}
