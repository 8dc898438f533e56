package gateway

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tidings/tidings/internal/blob"
	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/message"
)

// Queue is the operator's view of the gateway queue (`tidings queue`). It
// works on the database and blob store alone, so it runs beside a serving
// node or without one; jobs it queues are worked by the nodes.
type Queue struct {
	st    Store
	blobs blob.Store
	now   func() time.Time
}

// NewQueue returns the queue over st; blobs may be nil when nothing is
// deleted through it.
func NewQueue(st Store, blobs blob.Store) *Queue {
	return &Queue{st: st, blobs: blobs, now: time.Now}
}

// Summary is one message of a listing.
type Summary struct {
	Message
	MailFrom   string
	Recipients int
	// Deliveries counts the delivery rows by state.
	Deliveries map[DeliveryState]int
}

// Details is everything the queue holds about one message.
type Details struct {
	Message
	Envelope   message.Envelope
	Auth       *message.Auth
	Steps      []Step
	Deliveries []Delivery
}

// List returns the messages f selects, with their delivery counts.
func (q *Queue) List(ctx context.Context, f ListFilter) ([]Summary, error) {
	msgs, err := q.st.ListMessages(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]Summary, 0, len(msgs))
	for i := range msgs {
		s := Summary{Message: msgs[i], Deliveries: map[DeliveryState]int{}}
		if l, err := load(&msgs[i]); err == nil {
			s.MailFrom, s.Recipients = l.env.MailFrom, len(l.env.Recipients)
		}
		ds, err := q.st.Deliveries(ctx, msgs[i].QueueID)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			s.Deliveries[d.State]++
		}
		out = append(out, s)
	}
	return out, nil
}

// Show returns one message with its steps and deliveries.
func (q *Queue) Show(ctx context.Context, queueID string) (*Details, error) {
	if !validQueueID(queueID) {
		return nil, fault.Invalidf("%q is not a queue id", queueID)
	}
	m, err := q.st.GetMessage(ctx, queueID)
	if err != nil {
		return nil, err
	}
	l, err := load(m)
	if err != nil {
		return nil, err
	}
	d := &Details{Message: *m, Envelope: l.env, Auth: l.auth}
	if d.Steps, err = q.st.Steps(ctx, queueID); err != nil {
		return nil, err
	}
	if d.Deliveries, err = q.st.Deliveries(ctx, queueID); err != nil {
		return nil, err
	}
	return d, nil
}

// Retry makes the deferred deliveries of a message due now and queues
// the jobs that deliver them, its pending notifications, and its rule
// processing if that has not finished. It returns how many jobs it queued.
func (q *Queue) Retry(ctx context.Context, queueID string) (int, error) {
	if !validQueueID(queueID) {
		return 0, fault.Invalidf("%q is not a queue id", queueID)
	}
	now := ms(q.now())
	n := 0
	err := q.st.InTx(ctx, func(tx Tx) error {
		n = 0
		m, err := tx.LockMessage(ctx, queueID)
		if err != nil {
			return err
		}
		if m.State == Done {
			return fault.Conflictf("message %s is done; nothing to retry", queueID)
		}
		if m.State == Queued {
			if err := tx.Enqueue(ctx, ProcessArgs{QueueID: queueID}); err != nil {
				return err
			}
			n++
		}
		ds, err := tx.Deliveries(ctx, queueID)
		if err != nil {
			return err
		}
		var relays, notifies []int
		for i := range ds {
			d := &ds[i]
			if d.LeaseUntil.After(now) {
				continue // being worked on right now
			}
			switch {
			case d.State == DeliveryPending || d.State == DeliveryDeferred:
				d.NextAttemptAt, d.UpdatedAt = now, now
				if _, err := tx.UpdateDelivery(ctx, d, ""); err != nil {
					return err
				}
				if !slices.Contains(relays, d.Step) {
					relays = append(relays, d.Step)
				}
			case d.DSN == DSNPending:
				if !slices.Contains(notifies, d.Step) {
					notifies = append(notifies, d.Step)
				}
			}
		}
		for _, s := range relays {
			if err := tx.Enqueue(ctx, RelayArgs{QueueID: queueID, Step: s}); err != nil {
				return err
			}
		}
		for _, s := range notifies {
			if err := tx.Enqueue(ctx, NotifyArgs{QueueID: queueID, Step: s}); err != nil {
				return err
			}
		}
		n += len(relays) + len(notifies)
		return nil
	})
	return n, err
}

// Delete removes a message from the queue, with its steps, deliveries and
// spooled copy. Jobs already queued for it find nothing and end.
func (q *Queue) Delete(ctx context.Context, queueID string) error {
	if !validQueueID(queueID) {
		return fault.Invalidf("%q is not a queue id", queueID)
	}
	var m *Message
	err := q.st.InTx(ctx, func(tx Tx) error {
		var err error
		if m, err = tx.LockMessage(ctx, queueID); err != nil {
			return err
		}
		return tx.DeleteMessage(ctx, queueID)
	})
	if err != nil {
		return err
	}
	return q.deleteBlob(ctx, m)
}

func (q *Queue) deleteBlob(ctx context.Context, m *Message) error {
	if q.blobs == nil {
		return nil
	}
	err := q.blobs.Delete(ctx, blobKey(m.ReceivedAt, m.QueueID))
	if err != nil && !fault.Is(err, fault.NotFound) {
		return fmt.Errorf("message %s deleted, but not its spooled copy: %w", m.QueueID, err)
	}
	return nil
}

// purge deletes the messages DONE before cutoff (and any spooled copy a
// crash left behind), in batches; it returns how many.
func (q *Queue) purge(ctx context.Context, cutoff time.Time) (int, error) {
	total := 0
	for {
		msgs, err := q.st.ListMessages(ctx, ListFilter{State: Done, UpdatedBefore: cutoff, Limit: 500})
		if err != nil || len(msgs) == 0 {
			return total, err
		}
		for i := range msgs {
			m := &msgs[i]
			err := q.st.InTx(ctx, func(tx Tx) error { return tx.DeleteMessage(ctx, m.QueueID) })
			if err != nil && !fault.Is(err, fault.NotFound) {
				return total, err
			}
			if err := q.deleteBlob(ctx, m); err != nil {
				return total, err
			}
			total++
		}
	}
}

// release releases leases and queues the jobs that were working under
// them: those that ended before now (the sweeper: a worker died, or a node
// did) and those dead(owner) says died with a process (at start-up, see
// Gateway.Recover). It returns how many jobs it queued.
func (q *Queue) release(ctx context.Context, now time.Time, dead func(owner string) bool) (int, error) {
	gone := func(owner string, until time.Time) bool {
		return owner != "" && (!until.After(now) || (dead != nil && dead(owner)))
	}
	n := 0
	after := ""
	for {
		msgs, err := q.st.ListMessages(ctx, ListFilter{State: Queued, Leased: true, After: after, Limit: 500})
		if err != nil {
			return n, err
		}
		if len(msgs) == 0 {
			break
		}
		for i := range msgs {
			id := msgs[i].QueueID
			after = id
			if !gone(msgs[i].LeaseOwner, msgs[i].LeaseUntil) {
				continue
			}
			err := q.st.InTx(ctx, func(tx Tx) error {
				m, err := tx.LockMessage(ctx, id)
				if err != nil {
					return err
				}
				if m.State != Queued || !gone(m.LeaseOwner, m.LeaseUntil) {
					return nil
				}
				m.LeaseOwner, m.LeaseUntil = "", time.Time{}
				if err := tx.UpdateMessage(ctx, m); err != nil {
					return err
				}
				n++
				return tx.Enqueue(ctx, ProcessArgs{QueueID: id})
			})
			if err != nil && !fault.Is(err, fault.NotFound) {
				return n, err
			}
		}
	}
	ds, err := q.st.LeasedDeliveries(ctx)
	if err != nil {
		return n, err
	}
	type key struct {
		id     string
		step   int
		notify bool
	}
	jobs := map[key]bool{}
	for i := range ds {
		d := &ds[i]
		if !gone(d.LeaseOwner, d.LeaseUntil) {
			continue
		}
		k := key{d.QueueID, d.Step, d.DSN == DSNPending && (d.State == DeliveryFailed || d.State == DeliveryBounced)}
		owner := d.LeaseOwner
		err := q.st.InTx(ctx, func(tx Tx) error {
			d.LeaseOwner, d.LeaseUntil, d.UpdatedAt = "", time.Time{}, ms(now)
			if ok, err := tx.UpdateDelivery(ctx, d, owner); err != nil || !ok {
				return err // !ok: settled meanwhile
			}
			if jobs[k] {
				return nil
			}
			jobs[k] = true
			n++
			if k.notify {
				return tx.Enqueue(ctx, NotifyArgs{QueueID: d.QueueID, Step: d.Step})
			}
			return tx.Enqueue(ctx, RelayArgs{QueueID: d.QueueID, Step: d.Step})
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
