package lease

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// item is a leased piece of work of the tests.
type item struct {
	id    int
	until time.Time
}

type recorder struct {
	mu       sync.Mutex
	ran      []int
	requeued []int
}

func (r *recorder) add(l *[]int, id int) {
	r.mu.Lock()
	*l = append(*l, id)
	r.mu.Unlock()
}

func (r *recorder) lists() (ran, requeued []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.ran...), append([]int(nil), r.requeued...)
}

func TestDispatcher(t *testing.T) {
	now := time.Now()
	rec := &recorder{}
	hold := make(chan struct{})
	started := make(chan struct{}, 10)
	d := New(Config[item]{
		Node: "n1", Workers: 1, Max: 2,
		Run: func(ctx context.Context, x item) error {
			dl, ok := ctx.Deadline()
			require.True(t, ok)
			require.Equal(t, x.until.Add(-Margin), dl, "a run ends by its lease's end less the margin")
			if x.id == 1 {
				started <- struct{}{}
				<-hold
			}
			rec.add(&rec.ran, x.id)
			if x.id == 3 {
				return errors.New("failed")
			}
			return nil
		},
		Requeue: func(x item) { rec.add(&rec.requeued, x.id) },
		Until:   func(x item) time.Time { return x.until },
		Now:     func() time.Time { return now },
	})
	require.Regexp(t, `^n1/[0-9a-f]{12}$`, d.Owner())

	d.Add(item{1, now.Add(Duration)})
	<-started // the one worker is busy: what follows waits
	require.True(t, d.Room())
	d.Add(item{2, now.Add(Margin)}) // its lease is too near its end to run
	d.Add(item{3, now.Add(Duration)})
	require.False(t, d.Room(), "Max items wait")
	close(hold)
	require.Eventually(t, func() bool {
		ran, requeued := rec.lists()
		return len(ran) == 2 && len(requeued) == 2
	}, 5*time.Second, 5*time.Millisecond)
	ran, requeued := rec.lists()
	require.Equal(t, []int{1, 3}, ran)
	require.Equal(t, []int{2, 3}, requeued, "one too late to run, one that failed")

	// Stopped: what waits, and what comes after, is requeued.
	hold2 := make(chan struct{})
	d2 := New(Config[item]{
		Node: "n1", Workers: 1, Max: 10,
		Run: func(ctx context.Context, x item) error {
			started <- struct{}{}
			select {
			case <-hold2:
			case <-ctx.Done():
			}
			rec.add(&rec.ran, x.id)
			return ctx.Err()
		},
		Requeue: func(x item) { rec.add(&rec.requeued, x.id) },
		Until:   func(x item) time.Time { return x.until },
		Now:     func() time.Time { return now },
	})
	require.NotEqual(t, d.Owner(), d2.Owner())
	d2.Add(item{10, now.Add(Duration)})
	<-started
	d2.Add(item{11, now.Add(Duration)})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, d2.Stop(ctx), context.DeadlineExceeded, "the run in progress is cancelled")
	d2.Add(item{12, now.Add(Duration)})
	ran, requeued = rec.lists()
	require.Equal(t, []int{1, 3, 10}, ran)
	require.Equal(t, []int{2, 3, 11, 10, 12}, requeued, "waiting, cancelled, added after Stop")
	require.False(t, d2.Room())
}

func TestRecovering(t *testing.T) {
	require.Nil(t, Recovering("", "x/1", false), "nothing tells a shared database's nodes apart")
	single := Recovering("", "n1/own", true)
	require.True(t, single("n1/dead"))
	require.True(t, single("other/dead"))
	require.False(t, single("n1/own"))
	shared := Recovering("n1", "n1/own", false)
	require.True(t, shared("n1/dead"))
	require.False(t, shared("n10/dead"))
	require.False(t, shared("n2/x"))
	require.False(t, shared("n1/own"))
}

func TestDrain(t *testing.T) {
	left := 1203
	var batches []int
	n, err := Drain(context.Background(), 500, func(_ context.Context, batch int) (int, error) {
		k := min(batch, left)
		left -= k
		batches = append(batches, k)
		return k, nil
	})
	require.NoError(t, err)
	require.Equal(t, 1203, n)
	require.Equal(t, []int{500, 500, 203}, batches)

	boom := errors.New("boom")
	n, err = Drain(context.Background(), 10, func(context.Context, int) (int, error) { return 0, boom })
	require.ErrorIs(t, err, boom)
	require.Zero(t, n)
}
