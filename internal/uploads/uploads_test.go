package uploads_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/blob/fs"
	"github.com/tidings/tidings/internal/uploads"
)

type bundle struct {
	srv    *httptest.Server
	signer *uploads.Signer
	store  *fs.Store
	now    time.Time
}

func setup(t *testing.T, max int64) *bundle {
	t.Helper()
	st, err := fs.New(t.TempDir())
	require.NoError(t, err)
	b := &bundle{store: st, now: time.Now()}
	b.signer = &uploads.Signer{Key: []byte("0123456789abcdef0123456789abcdef"), Now: func() time.Time { return b.now }}
	mux := http.NewServeMux()
	mux.Handle(uploads.Prefix, b.signer.Handler(st, max, slog.New(slog.DiscardHandler)))
	b.srv = httptest.NewServer(mux)
	t.Cleanup(b.srv.Close)
	b.signer.BaseURL = b.srv.URL
	return b
}

func put(t *testing.T, url, body string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, url, strings.NewReader(body))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestPutThroughPresignedURL(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	url, err := b.signer.PresignPut("imports/acct/job 1.csv", time.Hour)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, put(t, url, "address\na@example.com\n"))

	rc, _, err := b.store.Get(context.Background(), "imports/acct/job 1.csv")
	require.NoError(t, err)
	got, _ := io.ReadAll(rc)
	rc.Close()
	require.Equal(t, "address\na@example.com\n", string(got))
}

func TestRejectsTamperingExpiryMethodAndSize(t *testing.T) {
	t.Parallel()
	b := setup(t, 10)
	url, err := b.signer.PresignPut("imports/x.csv", time.Minute)
	require.NoError(t, err)

	other := strings.Replace(url, "imports/x.csv", "imports/y.csv", 1)
	require.Equal(t, http.StatusForbidden, put(t, other, "a"), "another key with the same signature")
	require.Equal(t, http.StatusForbidden, put(t, strings.Replace(url, "signature=", "signature=0", 1), "a"))
	require.Equal(t, http.StatusForbidden, put(t, strings.Split(url, "?")[0], "a"), "no signature at all")

	resp, err := http.Get(url)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)

	require.Equal(t, http.StatusRequestEntityTooLarge, put(t, url, "more than ten bytes"))

	b.now = b.now.Add(2 * time.Minute)
	require.Equal(t, http.StatusForbidden, put(t, url, "a"), "expired")

	_, _, err = b.store.Get(context.Background(), "imports/x.csv")
	require.Error(t, err, "nothing may have been stored")
}

func TestBadKeys(t *testing.T) {
	t.Parallel()
	s := &uploads.Signer{BaseURL: "http://x", Key: []byte("k")}
	for _, k := range []string{"", "../etc/passwd", "a/../../b"} {
		_, err := s.PresignPut(k, time.Minute)
		require.Error(t, err, "key %q", k)
	}
}
