package sms

import (
	"context"
	"time"

	"github.com/tidings/tidings/internal/lease"
)

// The messages this process accepts are sent at once, in process (package
// lease): a message is committed under a lease of this process's instead
// of with a send job, and handed to one of the dispatcher's workers. A job
// per message cost River's insert inside the accept's commit, its fetch
// and its completion: a fifth of Tidings' CPU in bench/sms, and most of
// the single writer's time in the accept. A send that fails goes on as a
// job, with River's retries.

// dispatchMax bounds the messages waiting for a worker: past it, messages
// are accepted with a send job.
var dispatchMax = 50_000

func newDispatcher(s *Service, node string) *lease.Dispatcher[*messageRec] {
	return lease.New(lease.Config[*messageRec]{
		Node:    node,
		Workers: SendWorkers, // as many as the send queue's
		Max:     dispatchMax,
		Run: func(ctx context.Context, m *messageRec) error {
			err := s.submitMessage(ctx, m)
			if err != nil {
				s.log.Warn("sending a message failed; its send job retries it", "id", m.ID, "err", err)
			}
			return err
		},
		Requeue: s.requeue,
		Until:   func(m *messageRec) time.Time { return m.leaseUntil },
		Now:     s.cfg.Now,
	})
}

// requeue queues the send job of m and ends its lease, when m still holds
// the lease this process gave it.
func (s *Service) requeue(m *messageRec) {
	err := lease.Requeue(s.store.InTx, func(ctx context.Context, tx Tx) (*MessageRecord, error) { return tx.GetMessage(ctx, m.ID) },
		func(rec *MessageRecord) string { return rec.LeaseOwner }, s.leaseOwner, releaseLease)
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

// dispatching reports whether messages accepted now are leased and sent
// in process: the job queue works (a Recover'd or swept lease needs it)
// and the dispatcher has room.
func (s *Service) dispatching() bool {
	return s.dispatch != nil && s.queue != nil && s.queue.Working() && s.dispatch.Room()
}

// Recover ends the leases the previous process of this node held (a crash,
// SIGKILL) and queues their messages' send jobs. Call it at start-up. With
// single (the embedded SQLite shape, where no other node can exist) every
// lease but this process's is the previous process's; on a shared
// database only those of Config.NodeID are, which must therefore be
// stable across restarts and unique among the nodes.
func (s *Service) Recover(ctx context.Context, single bool) (int, error) {
	mine := lease.Recovering(s.cfg.NodeID, s.leaseOwner, single)
	if mine == nil {
		return 0, nil
	}
	return s.releaseLeases(ctx, mine, time.Time{})
}

// releaseLeases ends the leases owner accepts that end before `before`
// (all when zero) and queues their messages' send jobs, in batches.
func (s *Service) releaseLeases(ctx context.Context, owner func(string) bool, before time.Time) (int, error) {
	return lease.Drain(ctx, 500, lease.ReleaseBatch(s.store.InTx, func(ctx context.Context, tx Tx, n int) ([]*MessageRecord, error) {
		return tx.LeasedMessages(ctx, owner, before, n)
	}, releaseLease))
}
