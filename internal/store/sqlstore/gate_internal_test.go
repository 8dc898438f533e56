package sqlstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestGate: waiting urgent callers get the gate before lazy ones that
// came earlier; a caller whose context ends leaves the queue, or passes
// the gate on when it was handed over meanwhile.
func TestGate(t *testing.T) {
	g := &gate{}
	ctx := context.Background()
	require.NoError(t, g.enter(ctx, true))

	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	queued := func() int {
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.urgent) + len(g.lazy)
	}
	start := func(name string, lazy bool) {
		n := queued()
		wg.Go(func() {
			require.NoError(t, g.enter(ctx, lazy))
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			g.leave()
		})
		// Queued before the next one starts.
		require.Eventually(t, func() bool { return queued() == n+1 }, 5*time.Second, time.Millisecond)
	}
	start("lazy1", true)
	start("lazy2", true)
	start("urgent1", false)
	start("urgent2", false)

	// One whose context ends leaves the queue without taking a turn.
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- g.enter(cctx, false) }()
	require.Eventually(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return len(g.urgent) == 3 }, 5*time.Second, time.Millisecond)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)

	g.leave()
	wg.Wait()
	require.Equal(t, []string{"urgent1", "urgent2", "lazy1", "lazy2"}, order)
	require.False(t, g.held)
}
