package sms

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/workpool"
)

// dispatcher sends the messages this process accepts at once, in process:
// a message is committed under a lease of this process's (LeaseOwner)
// instead of with a send job, and handed to one of the dispatcher's
// workers. A job per message cost River's insert inside the accept's
// commit, its fetch and its completion: a fifth of Tidings' CPU in
// bench/sms, and most of the single writer's time in the accept.
//
// Nothing is lost with the process: a message accepted and not yet sent
// keeps its lease, so Recover queues its job at the node's next start,
// and the sweep on any node once the lease has ended. A send that fails
// goes on as a job, with River's retries, as it would have.
type dispatcher struct {
	s *Service
	// owner names this process in the leases it takes: the node, then a
	// random part, so that a restarted node tells its dead process's
	// leases from its own.
	owner string
	pool  *workpool.Pool[*messageRec]
	// ctx ends the sends in progress when stop gives up waiting for them.
	ctx    context.Context
	cancel context.CancelFunc
}

const (
	// dispatchWorkers is how many messages are sent at once, as the send
	// queue's SendWorkers.
	dispatchWorkers = SendWorkers
	// dispatchLease is how long a lease lasts. A message still waiting
	// for a worker when its lease is within dispatchMargin of its end goes
	// on as a job instead, so that no sweep queues a job for a message
	// being sent.
	dispatchLease  = 30 * time.Minute
	dispatchMargin = 5 * time.Minute
)

// dispatchMax bounds the messages waiting for a worker: past it, messages
// are accepted with a send job.
var dispatchMax = 50_000

func newDispatcher(s *Service, node string) *dispatcher {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	d := &dispatcher{s: s, owner: node + "/" + hex.EncodeToString(b)}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.pool = workpool.New(dispatchWorkers, d.run)
	return d
}

func (d *dispatcher) run(m *messageRec) {
	s := d.s
	end := m.leaseUntil.Add(-dispatchMargin)
	if !s.cfg.Now().Before(end) {
		d.requeue(m)
		return
	}
	ctx, cancel := context.WithDeadline(d.ctx, end)
	defer cancel()
	if err := s.submitMessage(ctx, m); err != nil {
		s.log.Warn("sending a message failed; its send job retries it", "id", m.ID, "err", err)
		d.requeue(m)
	}
}

// requeue queues the send job of m and ends its lease, when m still holds
// the lease d gave it.
func (d *dispatcher) requeue(m *messageRec) {
	s := d.s
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.store.InTx(ctx, func(tx Tx) error {
		rec, err := tx.GetMessage(ctx, m.ID)
		if fault.Is(err, fault.NotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if rec.LeaseOwner != d.owner {
			return nil
		}
		return releaseLease(ctx, tx, rec)
	})
	if err != nil {
		s.log.Error("could not queue the send job of a message; it is sent when its lease ends or at the next start",
			"id", m.ID, "err", err)
	}
}

// releaseLease ends rec's lease and, unless it was sent or settled
// meanwhile, queues its send job.
func releaseLease(ctx context.Context, tx Tx, rec *MessageRecord) error {
	sent := rec.ProviderID != "" || rec.Final
	if err := tx.UpdateMessage(ctx, rec); err != nil {
		return err
	}
	if sent {
		return nil
	}
	return tx.Enqueue(ctx, SendArgs{MessageID: rec.ID})
}

// stop takes no more messages, queues the jobs of those still waiting, and
// waits for the sends in progress until ctx ends (then cancels them: their
// leases stay, for the next start).
func (d *dispatcher) stop(ctx context.Context) error {
	for _, m := range d.pool.Stop() {
		d.requeue(m)
	}
	err := d.pool.Wait(ctx, d.cancel)
	d.cancel()
	return err
}

// dispatching reports whether messages accepted now are leased and sent
// in process: the job queue works (a Recover'd or swept lease needs it)
// and the dispatcher has room.
func (s *Service) dispatching() bool {
	return s.dispatch != nil && s.queue != nil && s.queue.Working() && s.dispatch.pool.Room(dispatchMax)
}

// Recover ends the leases the previous process of this node held (a crash,
// SIGKILL) and queues their messages' send jobs. Call it at start-up. With
// single (the embedded SQLite shape, where no other node can exist) every
// lease but this process's is the previous process's; on a shared
// database only those of Config.NodeID are, which must therefore be
// stable across restarts and unique among the nodes.
func (s *Service) Recover(ctx context.Context, single bool) (int, error) {
	node := s.cfg.NodeID
	if !single && node == "" {
		return 0, nil // nothing tells this node's leases from others'
	}
	own := ""
	if s.dispatch != nil {
		own = s.dispatch.owner
	}
	mine := func(owner string) bool { return owner != own && (single || strings.HasPrefix(owner, node+"/")) }
	return s.releaseLeases(ctx, mine, time.Time{})
}

// releaseLeases ends the leases owner accepts that end before `before`
// (all when zero) and queues their messages' send jobs, in batches.
func (s *Service) releaseLeases(ctx context.Context, owner func(string) bool, before time.Time) (int, error) {
	total := 0
	for {
		n := 0
		err := s.store.InTx(ctx, func(tx Tx) error {
			recs, err := tx.LeasedMessages(ctx, owner, before, 500)
			if err != nil {
				return err
			}
			for _, rec := range recs {
				if err := releaseLease(ctx, tx, rec); err != nil {
					return err
				}
			}
			n = len(recs)
			return nil
		})
		total += n
		if err != nil || n < 500 {
			return total, err
		}
	}
}
