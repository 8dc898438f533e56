package gateway

import (
	"context"
	"time"

	"github.com/riverqueue/river"
)

// Job kinds of the gateway.
const (
	KindProcess = "gateway.process"
	KindRelay   = "gateway.relay"
	KindNotify  = "gateway.dsn"
	KindPurge   = "gateway.purge"
	KindSweep   = "gateway.sweep"
)

// ProcessArgs applies the rule set of a spooled message.
type ProcessArgs struct {
	QueueID string `json:"queue_id"`
	// Attempt, when set, makes the job the retry of a step that failed
	// for a while (a REQUEST_RESPONSE invocation): it is for the attempt
	// of that number, and ends doing nothing if another job has made it
	// since (an operator's `tidings queue retry`, a sweep).
	Attempt   int       `json:"attempt,omitempty"`
	NotBefore time.Time `json:"not_before,omitzero"`
}

func (ProcessArgs) Kind() string { return KindProcess }

func (a ProcessArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{ScheduledAt: a.NotBefore, Queue: JobQueue}
}

// JobQueue is the job queue of processing and relaying, with JobWorkers
// workers of its own: a relay job mostly waits (on the remote server, on
// the database's writer), so many overlap, and sharing the default
// queue's workers with them would either starve them or, given the
// default queue more, have the API's jobs take the writer from the API's
// own commits (measured: bench/relay end to end 585 -> 618-762 msgs/s with
// 150 workers, while SendEmail and SMS accepted less with 150 shared).
const (
	JobQueue   = "gateway"
	JobWorkers = 150
)

// RelayArgs delivers the due recipients of one Relay step.
type RelayArgs struct {
	QueueID   string    `json:"queue_id"`
	Step      int       `json:"step"`
	NotBefore time.Time `json:"not_before,omitzero"`
}

func (RelayArgs) Kind() string { return KindRelay }

// InsertOpts schedules a retry for its time; River reads it when the
// store enqueues the args unchanged.
func (a RelayArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{ScheduledAt: a.NotBefore, Queue: JobQueue}
}

// NotifyArgs delivers the delivery status notification of the failed
// recipients of one step (a Relay's permanent failures, a Bounce action).
type NotifyArgs struct {
	QueueID   string    `json:"queue_id"`
	Step      int       `json:"step"`
	Attempt   int       `json:"attempt,omitempty"`
	First     time.Time `json:"first,omitzero"`
	NotBefore time.Time `json:"not_before,omitzero"`
}

func (NotifyArgs) Kind() string { return KindNotify }

func (a NotifyArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{ScheduledAt: a.NotBefore} }

// PurgeArgs removes finished messages older than Config.KeepDone.
type PurgeArgs struct{}

func (PurgeArgs) Kind() string { return KindPurge }

type processWorker struct {
	river.WorkerDefaults[ProcessArgs]
	g *Gateway
}

func (w *processWorker) Work(ctx context.Context, job *river.Job[ProcessArgs]) error {
	return w.g.process(ctx, job.Args)
}

// Timeout: archiving or writing a large message takes a while.
func (w *processWorker) Timeout(*river.Job[ProcessArgs]) time.Duration { return 30 * time.Minute }

type relayWorker struct {
	river.WorkerDefaults[RelayArgs]
	g *Gateway
}

func (w *relayWorker) Work(ctx context.Context, job *river.Job[RelayArgs]) error {
	return w.g.relay(ctx, job.Args)
}

// Timeout stays below the lease (Config.Lease) of the rows the job claims:
// the SMTP timeouts of one delivery add up to about 20 minutes.
func (w *relayWorker) Timeout(*river.Job[RelayArgs]) time.Duration { return 30 * time.Minute }

type notifyWorker struct {
	river.WorkerDefaults[NotifyArgs]
	g *Gateway
}

func (w *notifyWorker) Work(ctx context.Context, job *river.Job[NotifyArgs]) error {
	return w.g.notify(ctx, job.Args)
}

func (w *notifyWorker) Timeout(*river.Job[NotifyArgs]) time.Duration { return 30 * time.Minute }

type purgeWorker struct {
	river.WorkerDefaults[PurgeArgs]
	g *Gateway
}

func (w *purgeWorker) Work(ctx context.Context, _ *river.Job[PurgeArgs]) error {
	_, err := w.g.queue.purge(ctx, w.g.cfg.Now().Add(-w.g.cfg.KeepDone))
	return err
}

// SweepArgs queues again the work of leases that ended: a worker (or a
// node) died holding them.
type SweepArgs struct{}

func (SweepArgs) Kind() string { return KindSweep }

type sweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	g *Gateway
}

func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error {
	n, err := w.g.queue.release(ctx, w.g.cfg.Now(), nil)
	if n > 0 {
		w.g.log.Warn("resumed work whose worker died", "jobs", n)
	}
	return err
}
