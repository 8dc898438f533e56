package sms

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/tidings/tidings/internal/jobs"
)

// Job kinds of the SMS service.
const (
	KindSend    = "sms.send"
	KindPublish = "sms.publish"
	KindSweep   = "sms.unknown-sweep"
)

// SendArgs submits one message to its provider.
type SendArgs struct {
	MessageID string `json:"message_id"`
}

func (SendArgs) Kind() string { return KindSend }

// InsertOpts puts sends in their own queue.
func (SendArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: SendQueue} }

// SendQueue is the job queue of sends, with SendWorkers workers of its
// own. River fetches a queue's jobs at most once per FetchCooldown
// (100 ms), as many as it has idle workers: the default queue's 60 capped
// sends at 600/s, and its other jobs took from that. A send mostly waits
// (for the carrier's window and answer, for the database's writer), so
// many overlap cheaply. Sends queued before this queue existed are still
// worked in the default one.
const (
	SendQueue   = "sms"
	SendWorkers = 200
)

// PublishArgs publishes one event record to the destinations of a
// configuration set, or one two-way message to a topic.
type PublishArgs struct {
	AccountID        string `json:"account_id"`
	ConfigurationSet string `json:"configuration_set,omitempty"`
	TopicARN         string `json:"topic_arn,omitempty"`
	EventType        string `json:"event_type"`
	// Message is the JSON to publish, as a string so that the job's
	// storage (PostgreSQL's jsonb) keeps its bytes as they are.
	Message string `json:"message"`
}

func (PublishArgs) Kind() string { return KindPublish }

// SweepArgs reports UNKNOWN for messages without a final receipt.
type SweepArgs struct{}

func (SweepArgs) Kind() string { return KindSweep }

type sendWorker struct {
	river.WorkerDefaults[SendArgs]
	s *Service
}

func (w *sendWorker) Work(ctx context.Context, j *river.Job[SendArgs]) error {
	return w.s.submit(ctx, j.Args.MessageID)
}

type publishWorker struct {
	river.WorkerDefaults[PublishArgs]
	s *Service
}

func (w *publishWorker) Work(ctx context.Context, j *river.Job[PublishArgs]) error {
	return w.s.publish(ctx, j.Args)
}

type sweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	s *Service
}

func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error {
	// Leases whose process is gone (another node's, dead): their messages
	// go on as jobs.
	r, err := w.s.releaseLeases(ctx, nil, w.s.cfg.Now())
	if r > 0 {
		w.s.log.Info("messages whose sender's lease ended queued as jobs", "count", r)
	}
	if err != nil {
		return err
	}
	n, err := w.s.SweepUnknown(ctx)
	if n > 0 {
		w.s.log.Info("messages without a final receipt reported UNKNOWN", "count", n)
	}
	return err
}

// SweepInterval is how often the UNKNOWN sweep runs.
const SweepInterval = 10 * time.Minute

// Register adds the service's workers and its periodic sweep to q, and
// starts sending accepted messages in process (dispatch.go) whenever q
// works.
func (s *Service) Register(q *jobs.Queue) error {
	s.queue = q
	if s.dispatch == nil {
		s.dispatch = newDispatcher(s, s.cfg.NodeID)
		s.leaseOwner = s.dispatch.Owner()
	}
	q.AddQueue(SendQueue, SendWorkers)
	jobs.Register(q, &sendWorker{s: s})
	jobs.Register(q, &publishWorker{s: s})
	jobs.Register(q, &sweepWorker{s: s})
	return q.AddPeriodic(KindSweep, river.PeriodicInterval(SweepInterval), func() (river.JobArgs, *river.InsertOpts) {
		return SweepArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: SweepInterval}}
	}, true)
}
