package workpool

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRunsEveryItemOnce(t *testing.T) {
	var mu sync.Mutex
	seen := map[int]int{}
	var wg sync.WaitGroup
	p := New(4, func(x int) {
		mu.Lock()
		seen[x]++
		mu.Unlock()
		wg.Done()
	})
	for i := range 100 {
		wg.Add(1)
		require.True(t, p.Add(i, nil))
	}
	wg.Wait()
	require.Len(t, seen, 100)
	for i, n := range seen {
		require.Equal(t, 1, n, i)
	}
	require.Empty(t, p.Stop())
	require.NoError(t, p.Wait(context.Background(), func() {}))
}

func TestAcceptAndStop(t *testing.T) {
	release := make(chan struct{})
	started := make(chan int, 1)
	p := New(1, func(x int) {
		started <- x
		<-release
	})
	require.True(t, p.Add(1, nil))
	require.Equal(t, 1, <-started) // the worker is busy with 1
	require.True(t, p.Add(2, func(waiting int) bool { return waiting < 1 }))
	require.False(t, p.Add(3, func(waiting int) bool { return waiting < 1 }), "refused: one waiting")
	require.Equal(t, 1, p.Waiting())
	require.True(t, p.Room(2))
	require.False(t, p.Room(1))

	require.Equal(t, []int{2}, p.Stop(), "what waited is handed back, not run")
	require.Nil(t, p.Stop())
	require.False(t, p.Add(3, nil), "stopped")
	require.False(t, p.Room(10))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	canceled := false
	require.ErrorIs(t, p.Wait(ctx, func() { canceled = true; close(release) }), context.DeadlineExceeded)
	require.True(t, canceled)
}
