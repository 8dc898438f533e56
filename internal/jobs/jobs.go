// Package jobs is the background job queue: River, over the same database as
// the rest of the state, so that a job is inserted in the transaction that
// makes it necessary (a spooled message and its delivery job commit together
// or not at all).
//
// One Queue serves a process. It inserts with an insert-only River client
// from the moment it is made, so that API-only nodes can enqueue; Start builds
// and starts the working client from the workers and periodic jobs registered
// before it. Periodic jobs run only on the elected leader, so any number of
// nodes may run the same registrations.
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
)

// Driver names the database under the queue.
type Driver string

const (
	SQLite   Driver = "sqlite"
	Postgres Driver = "postgres"
)

// Options tune a Queue. The zero value is fine.
type Options struct {
	// MaxWorkers is how many jobs of the default queue run at once
	// (default 60: a relay job spends most of its time waiting on the
	// remote SMTP server and on fsyncs, so more of them overlap; with 20,
	// bench/relay processed 160–195 msgs/s while accepting more, with 60
	// 220–260, keeping up with what SMTP accepts).
	MaxWorkers int
	// ListenPool, for PostgreSQL only, carries LISTEN/NOTIFY so that a
	// committed job is picked up at once instead of at the next poll. It
	// must reach the same database and schema (search_path) as the *sql.DB.
	ListenPool *pgxpool.Pool
	// FetchPollInterval is the fallback poll for new jobs (default 1s).
	FetchPollInterval time.Duration
	// ID names this client among the nodes (default: random).
	ID string
	// TestOnly removes River's start-up jitter; for tests only.
	TestOnly bool
	// Sync, when set, makes a commit durable (see sqlite.WALSync): Insert
	// calls it after its own transaction commits.
	Sync func() error
}

// Queue wraps River's client. It is safe for concurrent use; Register and
// AddPeriodic must happen before Start.
type Queue struct {
	db     *sql.DB
	kind   Driver
	log    *slog.Logger
	opts   Options
	insert *river.Client[*sql.Tx]

	mu       sync.Mutex
	workers  *river.Workers
	kinds    map[string]bool
	queues   map[string]int // queues besides the default: max workers
	periodic []*river.PeriodicJob
	worker   *river.Client[*sql.Tx] // set by Start
}

// newDriver returns River's driver for kind over db. listen may be nil.
func newDriver(db *sql.DB, kind Driver, listen *pgxpool.Pool) (riverdriver.Driver[*sql.Tx], error) {
	switch kind {
	case SQLite:
		return riversqlite.New(db), nil
	case Postgres:
		if listen != nil {
			return riverdatabasesql.NewWithPgxListener(db, listen), nil
		}
		return riverdatabasesql.New(db), nil
	}
	return nil, fmt.Errorf("jobs: unknown driver %q", kind)
}

// Migrate brings River's tables up to date. The caller serializes concurrent
// migrators (the store holds its migration lock around this call).
func Migrate(ctx context.Context, db *sql.DB, kind Driver, log *slog.Logger) error {
	drv, err := newDriver(db, kind, nil)
	if err != nil {
		return err
	}
	m, err := rivermigrate.New(drv, &rivermigrate.Config{Logger: quiet(log)})
	if err != nil {
		return fmt.Errorf("jobs: river migrator: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("jobs: river migrations: %w", err)
	}
	return nil
}

// New returns a queue over db, whose River tables must exist (Migrate). It
// can insert at once; it works jobs only after Start.
func New(db *sql.DB, kind Driver, log *slog.Logger, opts ...Options) (*Queue, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.MaxWorkers <= 0 {
		o.MaxWorkers = 60
	}
	if kind != Postgres && o.ListenPool != nil {
		return nil, errors.New("jobs: a listen pool is for PostgreSQL only")
	}
	drv, err := newDriver(db, kind, nil)
	if err != nil {
		return nil, err
	}
	// An insert-only client: no queues, no workers, so it runs no services
	// and may insert kinds that only other nodes work.
	ins, err := river.NewClient(drv, &river.Config{Logger: quiet(log)})
	if err != nil {
		return nil, fmt.Errorf("jobs: river client: %w", err)
	}
	q := &Queue{
		db:      db,
		kind:    kind,
		log:     log,
		opts:    o,
		insert:  ins,
		workers: river.NewWorkers(),
		kinds:   map[string]bool{},
		queues:  map[string]int{},
	}
	// River refuses to start a client with no worker; the no-op worker keeps
	// River's maintenance (cleaner, rescuer, periodic jobs) running on a node
	// that has nothing else registered yet.
	Register(q, river.WorkFunc(func(context.Context, *river.Job[noop]) error { return nil }))
	return q, nil
}

// noop is the job of the internal no-op worker.
type noop struct{}

func (noop) Kind() string { return "tidings.noop" }

// kindRE is River's rule for job kinds, checked here because workers
// registered after River's client is made escape River's own check.
var kindRE = regexp.MustCompile(`\A[\w][\w\-\[\]<>\/.·:+]+\z`)

// Register adds the worker of job kind T. It panics when the kind is already
// registered, is malformed, or Start has run: all are programming errors
// found at start-up, as with river.AddWorker.
func Register[T river.JobArgs](q *Queue, w river.Worker[T]) {
	var args T
	kind := args.Kind()
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.worker != nil:
		panic(fmt.Sprintf("jobs: Register(%q) after Start", kind))
	case q.kinds[kind]:
		panic(fmt.Sprintf("jobs: worker for %q registered twice", kind))
	case !kindRE.MatchString(kind):
		panic(fmt.Sprintf("jobs: job kind %q does not match %s", kind, kindRE))
	}
	q.kinds[kind] = true
	river.AddWorker(q.workers, w)
}

// AddQueue adds a queue of its own, worked by at most maxWorkers jobs at
// once beside the default queue's, for jobs (InsertOpts.Queue = name) that
// must not take the default queue's workers: webhooks waiting on slow
// receivers must not hold up mail. It panics after Start or for a name
// added twice (programming errors found at start-up).
func (q *Queue) AddQueue(name string, maxWorkers int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.worker != nil:
		panic(fmt.Sprintf("jobs: AddQueue(%q) after Start", name))
	case name == river.QueueDefault || q.queues[name] != 0:
		panic(fmt.Sprintf("jobs: queue %q added twice", name))
	case maxWorkers <= 0:
		panic(fmt.Sprintf("jobs: queue %q needs workers", name))
	}
	q.queues[name] = maxWorkers
}

// AddPeriodic schedules a job on every interval of schedule. Periodic jobs
// are inserted only by the elected leader among the nodes; id names the
// periodic job (unique, stable across restarts). Before Start it is kept for
// Start; after Start it is added to the running client.
func (q *Queue) AddPeriodic(id string, schedule river.PeriodicSchedule, build river.PeriodicJobConstructor, runOnStart bool) error {
	pj := river.NewPeriodicJob(schedule, build, &river.PeriodicJobOpts{ID: id, RunOnStart: runOnStart})
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.worker != nil {
		_, err := q.worker.PeriodicJobs().AddSafely(pj)
		return err
	}
	q.periodic = append(q.periodic, pj)
	return nil
}

// InsertTx inserts a job in tx: it becomes visible to workers only when tx
// commits, and never if it rolls back.
func (q *Queue) InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) error {
	if _, err := q.insert.InsertTx(ctx, tx, args, opts); err != nil {
		return fmt.Errorf("jobs: insert %s: %w", args.Kind(), err)
	}
	return nil
}

// InsertManyTx inserts jobs in tx with one statement, as InsertTx does
// one: cheaper than one insert each when a transaction queues many.
func InsertManyTx[T river.JobArgs](ctx context.Context, q *Queue, tx *sql.Tx, args []T) error {
	if len(args) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(args))
	for i, a := range args {
		params[i] = river.InsertManyParams{Args: a}
	}
	if _, err := q.insert.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("jobs: insert %d jobs (%s…): %w", len(args), args[0].Kind(), err)
	}
	return nil
}

// Insert inserts a job in its own transaction.
func (q *Queue) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error {
	if _, err := q.insert.Insert(ctx, args, opts); err != nil {
		return fmt.Errorf("jobs: insert %s: %w", args.Kind(), err)
	}
	if q.opts.Sync != nil {
		if err := q.opts.Sync(); err != nil {
			return fmt.Errorf("jobs: insert %s: %w", args.Kind(), err)
		}
	}
	return nil
}

// List lists jobs in the database (any state), e.g. for tests and the
// console: river.NewJobListParams().Kinds("kind").First(100).
func (q *Queue) List(ctx context.Context, params *river.JobListParams) ([]*rivertype.JobRow, error) {
	res, err := q.insert.JobList(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("jobs: list: %w", err)
	}
	return res.Jobs, nil
}

// Start starts working jobs with the workers registered so far. Stop ends it.
func (q *Queue) Start(ctx context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.worker != nil {
		return errors.New("jobs: already started")
	}
	drv, err := newDriver(q.db, q.kind, q.opts.ListenPool)
	if err != nil {
		return err
	}
	queues := map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: q.opts.MaxWorkers}}
	for name, n := range q.queues {
		queues[name] = river.QueueConfig{MaxWorkers: n}
	}
	c, err := river.NewClient(drv, &river.Config{
		ID:                q.opts.ID,
		Logger:            quiet(q.log),
		Queues:            queues,
		Workers:           q.workers,
		PeriodicJobs:      q.periodic,
		FetchPollInterval: q.opts.FetchPollInterval,
		TestOnly:          q.opts.TestOnly,
		// Nodes of one deployment may run different roles (and versions);
		// a job kind unknown here is inserted for another node to work.
		SkipUnknownJobCheck: true,
	})
	if err != nil {
		return fmt.Errorf("jobs: river client: %w", err)
	}
	// River's Start context governs the client's whole life: cancelling it
	// is a hard stop. Stop is the way to end it, so detach from ctx.
	if err := c.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("jobs: start: %w", err)
	}
	q.worker = c
	return nil
}

// Working reports whether this node works jobs: Start has run.
func (q *Queue) Working() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.worker != nil
}

// Stop stops fetching jobs and waits for the running ones to finish. When
// ctx ends first, the running jobs' contexts are cancelled and Stop waits a
// little more for them to return, then reports ctx's error.
func (q *Queue) Stop(ctx context.Context) error {
	q.mu.Lock()
	c := q.worker
	q.mu.Unlock()
	if c == nil {
		return nil
	}
	err := c.Stop(ctx)
	if err == nil || ctx.Err() == nil {
		return err
	}
	hard, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if herr := c.StopAndCancel(hard); herr != nil {
		return errors.Join(err, herr)
	}
	return err
}

// Subscribe returns River's events of the given kinds on the working client
// (after Start), for tests and metrics. Call cancel when done.
func (q *Queue) Subscribe(kinds ...river.EventKind) (<-chan *river.Event, func(), error) {
	q.mu.Lock()
	c := q.worker
	q.mu.Unlock()
	if c == nil {
		return nil, nil, errors.New("jobs: not started")
	}
	ch, cancel := c.Subscribe(kinds...)
	return ch, cancel, nil
}

// quiet lowers River's chattiness: its Info lines (each migration, each
// leadership change) go to Debug of ours.
func quiet(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(levelShift{log.Handler()}).With("component", "river")
}

type levelShift struct{ slog.Handler }

func (h levelShift) Enabled(ctx context.Context, l slog.Level) bool {
	if l == slog.LevelInfo {
		l = slog.LevelDebug
	}
	return h.Handler.Enabled(ctx, l)
}

func (h levelShift) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelInfo {
		r.Level = slog.LevelDebug
	}
	return h.Handler.Handle(ctx, r)
}

func (h levelShift) WithAttrs(as []slog.Attr) slog.Handler {
	return levelShift{h.Handler.WithAttrs(as)}
}
func (h levelShift) WithGroup(n string) slog.Handler { return levelShift{h.Handler.WithGroup(n)} }
