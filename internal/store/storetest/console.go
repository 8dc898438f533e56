package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/console"
	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/store"
)

// RunConsole runs the conformance suite of console.SessionStore; open
// returns a fresh, empty database.
func RunConsole(t *testing.T, open func(t *testing.T) *store.DB) {
	t.Run("Searches", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		st := open(t).ConsoleSessions()
		t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		got, err := st.ListSearches(ctx, "111122223333", "a-1", 10)
		require.NoError(t, err)
		require.Empty(t, got)
		for i := range 5 {
			require.NoError(t, st.AddSearch(ctx, &console.SearchRecord{AccountID: "111122223333", ArchiveID: "a-1",
				At: t0.Add(time.Duration(i) * time.Minute), Query: fmt.Sprintf("q%d", i), URL: fmt.Sprintf("/u%d", i),
				Found: i, More: i%2 == 1}, 3))
		}
		require.NoError(t, st.AddSearch(ctx, &console.SearchRecord{AccountID: "111122223333", ArchiveID: "a-2", At: t0, Query: "other"}, 3))
		require.NoError(t, st.AddSearch(ctx, &console.SearchRecord{AccountID: "444455556666", ArchiveID: "a-1", At: t0, Query: "theirs"}, 3))
		got, err = st.ListSearches(ctx, "111122223333", "a-1", 10)
		require.NoError(t, err)
		require.Equal(t, []console.SearchRecord{
			{AccountID: "111122223333", ArchiveID: "a-1", At: t0.Add(4 * time.Minute), Query: "q4", URL: "/u4", Found: 4},
			{AccountID: "111122223333", ArchiveID: "a-1", At: t0.Add(3 * time.Minute), Query: "q3", URL: "/u3", Found: 3, More: true},
			{AccountID: "111122223333", ArchiveID: "a-1", At: t0.Add(2 * time.Minute), Query: "q2", URL: "/u2", Found: 2},
		}, got, "newest first, the oldest beyond 3 forgotten")
		got, err = st.ListSearches(ctx, "111122223333", "a-1", 1)
		require.NoError(t, err)
		require.Len(t, got, 1)
		got, err = st.ListSearches(ctx, "444455556666", "a-1", 10)
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, "theirs", got[0].Query)
	})

	t.Run("Sessions", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		st := open(t).ConsoleSessions()
		t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

		_, err := st.GetSession(ctx, "nosuch")
		require.True(t, fault.Is(err, fault.NotFound), "%v", err)
		require.NoError(t, st.DeleteSession(ctx, "nosuch"), "deleting a missing session is a no-op")

		a := &console.Session{Key: "aaaa", AccountID: "111122223333", AccessKeyID: "AKIAEXAMPLE", Method: "access key",
			CSRF: "token-a", CreatedAt: t0, SeenAt: t0}
		b := &console.Session{Key: "bbbb", AccountID: "111122223333", Method: "password",
			CSRF: "token-b", CreatedAt: t0.Add(-2 * time.Hour), SeenAt: t0}
		c := &console.Session{Key: "cccc", AccountID: "444455556666", Method: "password",
			CSRF: "token-c", CreatedAt: t0, SeenAt: t0.Add(-time.Hour)}
		for _, s := range []*console.Session{a, b, c} {
			require.NoError(t, st.CreateSession(ctx, s))
		}
		require.Error(t, st.CreateSession(ctx, a), "a session key is unique")

		got, err := st.GetSession(ctx, "aaaa")
		require.NoError(t, err)
		require.Equal(t, a, got)

		// Touch moves seen_at forward only.
		require.NoError(t, st.TouchSession(ctx, "aaaa", t0.Add(5*time.Minute)))
		require.NoError(t, st.TouchSession(ctx, "aaaa", t0.Add(time.Minute)))
		got, err = st.GetSession(ctx, "aaaa")
		require.NoError(t, err)
		require.Equal(t, t0.Add(5*time.Minute), got.SeenAt)
		require.NoError(t, st.TouchSession(ctx, "nosuch", t0))

		// Expired: c by idleness (seen an hour ago), b by age (created two
		// hours ago); a stays.
		n, err := st.DeleteExpiredSessions(ctx, t0.Add(-30*time.Minute), t0.Add(-time.Hour))
		require.NoError(t, err)
		require.Equal(t, int64(2), n)
		for _, k := range []string{"bbbb", "cccc"} {
			_, err := st.GetSession(ctx, k)
			require.True(t, fault.Is(err, fault.NotFound), "%s: %v", k, err)
		}
		_, err = st.GetSession(ctx, "aaaa")
		require.NoError(t, err)

		require.NoError(t, st.DeleteSession(ctx, "aaaa"))
		_, err = st.GetSession(ctx, "aaaa")
		require.True(t, fault.Is(err, fault.NotFound), "%v", err)
	})
}
