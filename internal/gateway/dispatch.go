package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/workpool"
)

// dispatcher processes the messages this node spools, in this process, as
// soon as their spool commit is durable: the message is committed with a
// lease of this node's instead of a process job, and handed to one of the
// dispatcher's workers. A job per message cost the database's writer three
// writes of the job queue's (the insert, the fetch, the completion), more
// than a quarter of its time in bench/relay, and on SQLite that writer is
// what every message waits for.
//
// Nothing is lost with the process: a message spooled and not yet
// processed is QUEUED under a lease of this node's, so Recover queues its
// job at the next start (and the sweep, on another node, when the lease
// ends). A run that does not finish (an error to retry, a step to wait
// for) goes on as a job, as it would have.
type dispatcher struct {
	g    *Gateway
	pool *workpool.Pool[*Message]
	// ctx ends the runs in progress when stop gives up waiting for them.
	ctx    context.Context
	cancel context.CancelFunc
}

// dispatchRunTimeout bounds one run, as processWorker.Timeout bounds a job.
const dispatchRunTimeout = 30 * time.Minute

func newDispatcher(g *Gateway, workers int) *dispatcher {
	d := &dispatcher{g: g}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.pool = workpool.New(workers, d.run)
	return d
}

// Bounds of the dispatcher's queue, for when messages arrive faster than
// they are processed: past dispatchKeepContent waiting, a message is queued
// without its copy (the run reads it from the spool); past dispatchMax the
// caller queues a job instead.
var (
	dispatchKeepContent = 1024
	dispatchMax         = 50_000
)

// add hands m, committed under a lease of this node's, to a worker.
// It reports false once the dispatcher is stopped or full: the caller
// then queues m's job (requeue).
func (d *dispatcher) add(m *Message) bool {
	return d.pool.Add(m, func(waiting int) bool {
		if waiting >= dispatchMax {
			return false
		}
		if waiting >= dispatchKeepContent {
			m.Content = nil
		}
		return true
	})
}

func (d *dispatcher) run(m *Message) {
	ctx, cancel := context.WithTimeout(d.ctx, dispatchRunTimeout)
	defer cancel()
	g := d.g
	err := g.processSpooled(ctx, m)
	if err == nil {
		return
	}
	// Go on as a job: after a snooze's time, or a retry's.
	wait := 5 * time.Second
	var snooze *rivertype.JobSnoozeError
	if errors.As(err, &snooze) {
		wait = snooze.Duration
	}
	if qerr := d.requeue(context.WithoutCancel(ctx), []*Message{m}, wait); qerr != nil {
		g.log.Error("could not queue the job that retries a message; it resumes when its lease ends or at the next start",
			"queue_id", m.QueueID, "err", qerr)
	}
}

// requeue queues the process jobs of msgs, after wait, releasing the leases
// the spool gave them where they still hold them.
func (d *dispatcher) requeue(ctx context.Context, msgs []*Message, wait time.Duration) error {
	g := d.g
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	at := g.cfg.Now().Add(wait)
	return g.cfg.Store.InTx(ctx, func(tx Tx) error {
		for _, m := range msgs {
			cur, err := tx.LockMessage(ctx, m.QueueID)
			if fault.Is(err, fault.NotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if cur.State != Queued {
				continue
			}
			if cur.LeaseOwner == m.LeaseOwner {
				cur.LeaseOwner, cur.LeaseUntil = "", time.Time{}
				cur.UpdatedAt = ms(g.cfg.Now())
				if err := tx.UpdateMessage(ctx, cur); err != nil {
					return err
				}
			}
			args := ProcessArgs{QueueID: m.QueueID}
			if wait > 0 {
				args.NotBefore = at
			}
			if err := tx.Enqueue(ctx, args); err != nil {
				return err
			}
		}
		return nil
	})
}

// stop takes no more messages, waits for the runs in progress (until ctx
// ends, when it cancels them), and queues the jobs of the messages still
// waiting, so that another node (or this one, restarted) takes them at once
// rather than when their leases end.
func (d *dispatcher) stop(ctx context.Context) error {
	left := d.pool.Stop()
	_ = d.pool.Wait(ctx, d.cancel)
	d.cancel()
	if len(left) == 0 {
		return nil
	}
	return d.requeue(context.WithoutCancel(ctx), left, 0)
}
