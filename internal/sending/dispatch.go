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

// heldMax bounds the bytes of spooled copies the messages waiting for a
// worker hold in memory (handover); past it they are read back from the
// database. It is Service.heldMax's default.
const heldMax = 32 << 20

// handover is what the accept hands the dispatcher: the message as it was
// committed (with its spooled copy while heldMax allows), its metadata
// and its recipients, so that the delivery reads none of them back. The
// lease makes them the truth: nothing else changes the message meanwhile.
type handover struct {
	m     *Message
	meta  *messageMeta
	rcpts []Recipient
}

func (s *Service) startDispatch(q *jobs.Queue) {
	s.queue = q
	s.dispatch = lease.New(lease.Config[*handover]{
		Node:    s.cfg.NodeID,
		Workers: DeliverWorkers, // as many as the delivery queue's
		Max:     dispatchMax,
		Run: func(ctx context.Context, h *handover) error {
			defer s.unhold(h)
			err := s.deliverMessage(ctx, h.m, h.meta, h.rcpts)
			if err != nil {
				s.log.Warn("a delivery failed; its job retries it", "message_id", h.m.MessageID, "err", err)
			}
			return err
		},
		Requeue: func(h *handover) {
			s.unhold(h)
			s.requeue(h.m)
		},
		Until: func(h *handover) time.Time { return h.m.LeaseUntil },
		Now:   s.now,
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
// dispatcher with its metadata and recipients (handover).
func (s *Service) dispatched(m *Message, meta *messageMeta, rcpts []Recipient) {
	h := &handover{m: new(Message), meta: meta, rcpts: make([]Recipient, len(rcpts))}
	*h.m = *m
	if n := int64(len(m.Content)); n > 0 && s.held.Add(n) > s.heldMax {
		s.held.Add(-n)
		h.m.Content = nil
	}
	for i, r := range rcpts {
		r.MessageID = m.MessageID
		h.rcpts[i] = r
	}
	s.dispatch.Add(h)
}

// unhold gives back the bytes h's spooled copy counted against heldMax.
func (s *Service) unhold(h *handover) {
	if h.m.Content != nil {
		s.held.Add(-int64(len(h.m.Content)))
		h.m.Content = nil
	}
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
