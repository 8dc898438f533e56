package sending

import (
	"context"
	"time"

	"github.com/tidings/tidings/internal/jobs"
	"github.com/tidings/tidings/internal/lease"
)

// The messages this process accepts are delivered at once, in process
// (package lease): a message is committed under a lease of this
// process's instead of with a delivery job, and handed to one of the
// dispatcher's workers. A delivery that fails, and the next attempt of a
// deferred recipient, go on as jobs.

// dispatchMax bounds the messages waiting for a worker: past it, messages
// are accepted with a delivery job.
var dispatchMax = 50_000

func (s *Service) startDispatch(q *jobs.Queue) {
	s.queue = q
	s.dispatch = lease.New(lease.Config[*Message]{
		Node:    s.cfg.NodeID,
		Workers: DeliverWorkers, // as many as the delivery queue's
		Max:     dispatchMax,
		Run: func(ctx context.Context, m *Message) error {
			err := s.deliver(ctx, DeliverArgs{MessageID: m.MessageID})
			if err != nil {
				s.log.Warn("a delivery failed; its job retries it", "message_id", m.MessageID, "err", err)
			}
			return err
		},
		Requeue: s.requeue,
		Until:   func(m *Message) time.Time { return m.LeaseUntil },
		Now:     s.now,
	})
	s.leaseOwner = s.dispatch.Owner()
}

// dispatching reports whether messages accepted now are leased and
// delivered in process: the job queue works (a Recover'd or swept lease
// needs it) and the dispatcher has room.
func (s *Service) dispatching() bool {
	return s.dispatch != nil && s.queue != nil && s.queue.Working() && s.dispatch.Room()
}

// dispatched hands m, committed under this process's lease, to the
// dispatcher: its ID and lease only, since the delivery reads the rest.
func (s *Service) dispatched(m *Message) {
	s.dispatch.Add(&Message{MessageID: m.MessageID, LeaseOwner: m.LeaseOwner, LeaseUntil: m.LeaseUntil})
}

// requeue queues the delivery job of m and ends its lease, when m still
// holds the lease this process gave it.
func (s *Service) requeue(m *Message) {
	err := lease.Requeue(s.st.InTx, func(ctx context.Context, tx Tx) (*Message, error) { return tx.GetMessage(ctx, m.MessageID) },
		func(rec *Message) string { return rec.LeaseOwner }, s.leaseOwner, releaseLease)
	if err != nil {
		s.log.Error("could not queue the delivery job of a message; it is delivered when its lease ends or at the next start",
			"message_id", m.MessageID, "err", err)
	}
}

// releaseLease ends rec's lease and, unless it was delivered meanwhile,
// queues its delivery job.
func releaseLease(ctx context.Context, tx Tx, rec *Message) error {
	if err := tx.UpdateMessage(ctx, rec); err != nil {
		return err
	}
	if rec.State == MessageDone {
		return nil
	}
	return tx.Enqueue(ctx, DeliverArgs{MessageID: rec.MessageID})
}

// Recover ends the leases the previous process of this node held (a
// crash, SIGKILL) and queues their messages' delivery jobs. Call it at
// start-up, before the job queue starts. With single (the embedded SQLite
// shape, where no other node can exist) every lease but this process's is
// the previous process's; on a shared database only those of
// Config.NodeID are, which must therefore be stable across restarts and
// unique among the nodes.
func (s *Service) Recover(ctx context.Context, single bool) (int, error) {
	mine := lease.Recovering(s.cfg.NodeID, s.leaseOwner, single)
	if mine == nil {
		return 0, nil
	}
	return s.releaseLeases(ctx, mine, time.Time{})
}

// releaseLeases ends the leases owner accepts that end before `before`
// (all when zero) and queues their messages' delivery jobs, in batches.
func (s *Service) releaseLeases(ctx context.Context, owner func(string) bool, before time.Time) (int, error) {
	return lease.Drain(ctx, 500, lease.ReleaseBatch(s.st.InTx, func(ctx context.Context, tx Tx, n int) ([]*Message, error) {
		return tx.LeasedMessages(ctx, owner, before, n)
	}, releaseLease))
}

// Close stops delivering in process: the messages waiting go on as jobs,
// and the deliveries in progress have until ctx ends (then they stop, and
// their leases are released at the next start). Call it before the job
// queue stops.
func (s *Service) Close(ctx context.Context) error {
	if s.dispatch == nil {
		return nil
	}
	return s.dispatch.Stop(ctx)
}
