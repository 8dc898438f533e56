package gateway

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/delivery"
	"github.com/tidings/tidings/internal/events"
)

// TestLambdaRetrySpansRetryTime: the retries of a REQUEST_RESPONSE
// invocation back off (Config.Retry's First doubling up to Max) and go on
// for the whole of RetryTimeMinutes, the largest the model allows (2160
// minutes, 36 hours) included, the last at its end; after it the step
// fails. Unset, the window is events.DefaultInvokeRetry.
func TestLambdaRetrySpansRetryTime(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		minutes int
		window  time.Duration
	}{{2160, 36 * time.Hour}, {400, 400 * time.Minute}, {0, events.DefaultInvokeRetry}} {
		start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		now := start
		g := &Gateway{cfg: Config{Retry: delivery.RetryPolicy{First: 5 * time.Minute, Max: time.Hour}, Now: func() time.Time { return now }}}
		s := &Step{Action: "InvokeLambda", State: StepPending}
		var waits []time.Duration
		for {
			o := g.lambdaRetry(s, time.Duration(tc.minutes)*time.Minute, "HTTP 503")
			if o.state == StepFailed {
				require.Contains(t, o.err, "HTTP 503")
				require.Contains(t, o.err, "gave up after")
				break
			}
			require.Equal(t, StepPending, o.state)
			var st lambdaRetry
			require.NoError(t, json.Unmarshal([]byte(o.detail), &st))
			require.Equal(t, len(waits)+1, st.Attempts)
			require.True(t, st.First.Equal(start))
			require.True(t, st.Next.Equal(o.retryAt))
			require.Equal(t, len(waits)+1, retryAttempts(&Step{Action: "InvokeLambda", State: StepPending, Detail: o.detail}))
			waits = append(waits, o.retryAt.Sub(now))
			s.Detail, now = o.detail, o.retryAt
			require.Less(t, len(waits), 100)
		}
		require.Equal(t, tc.window, now.Sub(start), "retried until the end of RetryTimeMinutes %d", tc.minutes)
		require.Equal(t, 5*time.Minute, waits[0])
		require.Equal(t, 10*time.Minute, waits[1])
		for _, w := range waits {
			require.LessOrEqual(t, w, time.Hour)
		}
	}
}
