// Package workpool runs queued items on a fixed number of goroutines,
// oldest first. The gateway and the SMS service use one each to process,
// in process, what they have just committed under a lease (their
// dispatchers): the pool is the queue and its workers; what an item's run
// does, and what becomes of items a stopped pool still held, is theirs.
package workpool

import (
	"context"
	"sync"
)

// Pool runs items of type T with run, on the workers New started.
type Pool[T any] struct {
	run  func(T)
	mu   sync.Mutex
	cond *sync.Cond
	// queue holds the items waiting for a worker, oldest first.
	queue   []T
	stopped bool
	wg      sync.WaitGroup
}

// New starts workers goroutines that run the items added, one at a time
// each.
func New[T any](workers int, run func(T)) *Pool[T] {
	p := &Pool[T]{run: run}
	p.cond = sync.NewCond(&p.mu)
	for range workers {
		p.wg.Add(1)
		go p.work()
	}
	return p
}

// Add queues x for a worker. accept, when not nil, is asked first with
// the number of items waiting (it may change what x points to, e.g. drop
// what a long wait should not hold): Add reports false without queueing x
// when it refuses, or once the pool is stopped.
func (p *Pool[T]) Add(x T, accept func(waiting int) bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped || accept != nil && !accept(len(p.queue)) {
		return false
	}
	p.queue = append(p.queue, x)
	p.cond.Signal()
	return true
}

// Room reports whether the pool is running with fewer than max items
// waiting.
func (p *Pool[T]) Room(max int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.stopped && len(p.queue) < max
}

// Waiting returns how many items wait for a worker.
func (p *Pool[T]) Waiting() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue)
}

func (p *Pool[T]) work() {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		for len(p.queue) == 0 && !p.stopped {
			p.cond.Wait()
		}
		if p.stopped {
			p.mu.Unlock()
			return
		}
		var zero T
		x := p.queue[0]
		p.queue[0] = zero
		p.queue = p.queue[1:]
		p.mu.Unlock()
		p.run(x)
	}
}

// Stop takes no more items and returns those still waiting, which no
// worker will run; the first call only returns them.
func (p *Pool[T]) Stop() []T {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return nil
	}
	p.stopped = true
	left := p.queue
	p.queue = nil
	p.cond.Broadcast()
	return left
}

// Wait waits, after Stop, for the runs in progress to return. When ctx
// ends first it calls cancel (which should make the runs return), waits
// for them and returns ctx's error.
func (p *Pool[T]) Wait(ctx context.Context, cancel func()) error {
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		cancel()
		<-done
		return ctx.Err()
	}
}
