package sqlstore

import (
	"context"
	"sync"
)

// gate orders the turns of this store's transactions at SQLite's one
// writer connection: those someone waits on (an SMTP "250", a MessageId)
// before lazy ones (package durable), which only record what happened.
// database/sql hands a freed connection to a random waiter; without the
// gate a spool commit waited behind whatever lazy batches were queued.
// The job queue's own writes do not pass through it.
type gate struct {
	mu     sync.Mutex
	held   bool
	urgent []chan struct{}
	lazy   []chan struct{}
}

// enter returns once the caller holds the gate, or ctx's error.
func (g *gate) enter(ctx context.Context, lazy bool) error {
	g.mu.Lock()
	if !g.held {
		g.held = true
		g.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	if lazy {
		g.lazy = append(g.lazy, ch)
	} else {
		g.urgent = append(g.urgent, ch)
	}
	g.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		g.mu.Lock()
		if remove(&g.urgent, ch) || remove(&g.lazy, ch) {
			g.mu.Unlock()
			return ctx.Err()
		}
		g.mu.Unlock()
		g.leave() // handed over meanwhile: pass it on
		return ctx.Err()
	}
}

// leave hands the gate to the first urgent waiter, else the first lazy
// one, else frees it.
func (g *gate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, q := range []*[]chan struct{}{&g.urgent, &g.lazy} {
		if len(*q) > 0 {
			ch := (*q)[0]
			*q = (*q)[1:]
			close(ch)
			return
		}
	}
	g.held = false
}

func remove(q *[]chan struct{}, ch chan struct{}) bool {
	for i, c := range *q {
		if c == ch {
			*q = append((*q)[:i], (*q)[i+1:]...)
			return true
		}
	}
	return false
}
