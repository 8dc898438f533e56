package storetest

import (
	"context"
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
