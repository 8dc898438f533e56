package groupcommit_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/groupcommit"
)

// TestBatches: concurrent callers share transactions, every item is
// committed exactly once, and no batch exceeds the maximum.
func TestBatches(t *testing.T) {
	var (
		mu        sync.Mutex
		committed = map[int]int{}
		batches   int
		largest   int
	)
	gate := make(chan struct{})
	first := true
	g := groupcommit.New(8, func(batch []int) error {
		mu.Lock()
		wait := first
		first = false
		mu.Unlock()
		if wait {
			<-gate // hold the first commit so the others queue behind it
		}
		mu.Lock()
		defer mu.Unlock()
		batches++
		largest = max(largest, len(batch))
		for _, v := range batch {
			committed[v]++
		}
		return nil
	})
	var wg sync.WaitGroup
	const n = 100
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, g.Do(i))
		}()
		if i == 0 {
			// Let the first caller become the committer before the rest.
			for {
				mu.Lock()
				f := first
				mu.Unlock()
				if !f {
					break
				}
			}
		}
	}
	// The others are queued or about to be; release the first commit.
	close(gate)
	wg.Wait()
	require.Len(t, committed, n)
	for v, c := range committed {
		require.Equal(t, 1, c, "item %d", v)
	}
	require.LessOrEqual(t, largest, 8)
	require.Less(t, batches, n, "callers waiting behind a commit share the next ones")
}

// TestOneBadItem: a failing batch is retried item by item, so only the
// bad item's caller sees the error.
func TestOneBadItem(t *testing.T) {
	bad := errors.New("bad item")
	var mu sync.Mutex
	var ok []int
	g := groupcommit.New(0, func(batch []int) error {
		for _, v := range batch {
			if v == 3 {
				return bad
			}
		}
		mu.Lock()
		ok = append(ok, batch...)
		mu.Unlock()
		return nil
	})
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range 10 {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = g.Do(i) }()
	}
	wg.Wait()
	for i, err := range errs {
		if i == 3 {
			require.ErrorIs(t, err, bad)
		} else {
			require.NoError(t, err, "item %d", i)
		}
	}
	require.Len(t, ok, 9)
}
