// Package groupcommit batches concurrent commits into shared transactions.
//
// Durable writes are paid for by their fsync, not their rows: one
// transaction of 100 messages costs about what one of 1 does. When many
// goroutines each need a small write committed before they answer (an
// SMTP "250", a MessageId), a Group lets the first of them commit for all
// that arrived meanwhile, so the rate of commits stops bounding the rate
// of messages. No goroutine of its own: the caller that finds no commit
// running runs them, taking what arrived while it worked, until none is
// left.
package groupcommit

import "sync"

// DefaultMax bounds the items of one transaction when New is given 0.
const DefaultMax = 256

// Group commits items of type T in batches. Its zero value is not usable:
// make one with New.
type Group[T any] struct {
	commit func(batch []T) error
	max    int

	mu      sync.Mutex
	pending []*call[T]
	running bool
}

type call[T any] struct {
	item T
	err  chan error
}

// New returns a Group whose batches of at most max items (DefaultMax when
// max ≤ 0) are written by commit in one transaction: all or none. When a
// batch of several fails, each of its items is committed alone, so one
// bad item fails only its own caller. commit must therefore be safe to
// call again with part of a batch that failed (it was rolled back).
func New[T any](max int, commit func(batch []T) error) *Group[T] {
	if max <= 0 {
		max = DefaultMax
	}
	return &Group[T]{commit: commit, max: max}
}

// Do commits item, with whatever other items are waiting, and returns
// when its transaction has ended: nil once it is committed.
func (g *Group[T]) Do(item T) error {
	c := &call[T]{item: item, err: make(chan error, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, c)
	if g.running {
		g.mu.Unlock()
		return <-c.err
	}
	g.running = true
	for len(g.pending) > 0 {
		n := min(len(g.pending), g.max)
		batch := g.pending[:n:n]
		g.pending = g.pending[n:]
		g.mu.Unlock()
		g.run(batch)
		g.mu.Lock()
	}
	g.running = false
	g.mu.Unlock()
	return <-c.err
}

func (g *Group[T]) run(batch []*call[T]) {
	items := make([]T, len(batch))
	for i, c := range batch {
		items[i] = c.item
	}
	err := g.commit(items)
	if err != nil && len(batch) > 1 {
		for i, c := range batch {
			c.err <- g.commit(items[i : i+1 : i+1])
		}
		return
	}
	for _, c := range batch {
		c.err <- err
	}
}
