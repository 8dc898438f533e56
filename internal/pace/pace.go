// Package pace spaces events at least 1/rate apart: Postfix's
// destination_rate_delay, or a carrier's submits per second. There is no
// burst: each Wait books the slot after the one before it.
package pace

import (
	"context"
	"sync"
	"time"
)

// Pacer spaces the returns of Wait. The zero value, and a Pacer of a rate
// that is not positive, never waits. It is safe for concurrent use.
type Pacer struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
}

// New returns a Pacer of rate events a second (none when rate <= 0).
func New(rate float64) *Pacer {
	if rate <= 0 {
		return &Pacer{}
	}
	return &Pacer{interval: time.Duration(float64(time.Second) / rate)}
}

// Wait returns when the caller's slot comes, or with ctx's error if ctx
// ends first (the slot is then lost, as if used).
func (p *Pacer) Wait(ctx context.Context) error {
	if p.interval == 0 {
		return nil
	}
	p.mu.Lock()
	now := time.Now()
	at := p.next
	if at.Before(now) {
		at = now
	}
	p.next = at.Add(p.interval)
	p.mu.Unlock()
	d := time.Until(at)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Next is when the next slot begins: after it, the Pacer holds nothing
// back and can be dropped.
func (p *Pacer) Next() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.next
}
