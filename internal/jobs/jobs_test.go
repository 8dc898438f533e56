package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/jobs"
	"github.com/tidings/tidings/internal/mailmanager"
	"github.com/tidings/tidings/internal/store"
	"github.com/tidings/tidings/internal/store/storetest"
)

// logLines keeps what the store and River log at warning and above.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, string(p))
	return len(p), nil
}

func (l *logLines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

// eachDB runs fn against every database, in parallel, each fresh.
func eachDB(t *testing.T, fn func(t *testing.T, db *store.DB, logs *logLines)) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			url, dir := "", t.TempDir()
			if name == "postgres" {
				url = storetest.PostgresURL(t)
			}
			logs := &logLines{}
			log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
			db, err := store.Open(context.Background(), url, dir, log)
			require.NoError(t, err)
			t.Cleanup(func() {
				require.NoError(t, db.Close())
				for _, l := range logs.all() {
					t.Log(strings.TrimSpace(l))
				}
			})
			fn(t, db, logs)
		})
	}
}

type markJob struct {
	Mark string `json:"mark"`
}

func (markJob) Kind() string { return "jobstest.mark" }

// await receives from ch until want is seen or the deadline passes.
func await[T any](t *testing.T, ch <-chan T, deadline time.Duration, want func(T) bool) {
	t.Helper()
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	for {
		select {
		case v := <-ch:
			if want(v) {
				return
			}
		case <-timer.C:
			t.Fatalf("not seen within %s", deadline)
		}
	}
}

// TestCommitRunsRollbackNever: a job enqueued in a committed transaction
// runs; one enqueued in a rolled-back transaction never does.
func TestCommitRunsRollbackNever(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, db *store.DB, logs *logLines) {
		ctx := context.Background()
		ran := make(chan string, 10)
		jobs.Register(db.Jobs(), river.WorkFunc(func(ctx context.Context, j *river.Job[markJob]) error {
			ran <- j.Args.Mark
			return nil
		}))
		require.NoError(t, db.Jobs().Start(ctx))

		enqueue := func(mark string, commit bool) {
			err := db.MailManager().InTx(ctx, func(tx mailmanager.Tx) error {
				if err := tx.Enqueue(ctx, markJob{Mark: mark}); err != nil {
					return err
				}
				if !commit {
					return errors.New("roll back")
				}
				return nil
			})
			require.Equal(t, commit, err == nil, "%s: %v", mark, err)
		}
		enqueue("committed", true)
		enqueue("rolled-back", false)
		enqueue("after", true)

		seen := map[string]bool{}
		await(t, ran, 30*time.Second, func(m string) bool {
			require.NotEqual(t, "rolled-back", m)
			seen[m] = true
			return seen["committed"] && seen["after"]
		})
		// Drain the queue; nothing else may have run.
		require.NoError(t, db.Jobs().Stop(ctx))
		close(ran)
		for m := range ran {
			t.Errorf("unexpected run of %q", m)
		}
		list, err := db.Jobs().List(ctx, river.NewJobListParams().Kinds(markJob{}.Kind()).States(
			"available", "cancelled", "completed", "discarded", "pending", "retryable", "running", "scheduled"))
		require.NoError(t, err)
		require.Len(t, list, 2, "the rolled-back job is nowhere")
	})
}

type tickJob struct{}

func (tickJob) Kind() string { return "jobstest.tick" }

// TestPeriodic: a periodic job is inserted by the elected leader and runs.
func TestPeriodic(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, db *store.DB, logs *logLines) {
		ctx := context.Background()
		ticks := make(chan struct{}, 100)
		q := db.Jobs()
		jobs.Register(q, river.WorkFunc(func(context.Context, *river.Job[tickJob]) error {
			ticks <- struct{}{}
			return nil
		}))
		require.NoError(t, q.AddPeriodic("tick", river.PeriodicInterval(time.Hour),
			func() (river.JobArgs, *river.InsertOpts) { return tickJob{}, nil }, true))
		require.NoError(t, q.Start(ctx))
		t.Cleanup(func() { require.NoError(t, q.Stop(context.Background())) })
		await(t, ticks, 60*time.Second, func(struct{}) bool { return true })
	})
}

func TestRegisterMisuse(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	q := db.Jobs()
	w := river.WorkFunc(func(context.Context, *river.Job[markJob]) error { return nil })
	jobs.Register(q, w)
	require.Panics(t, func() { jobs.Register(q, w) }, "twice")
	require.NoError(t, q.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, q.Stop(context.Background())) })
	require.Panics(t, func() {
		jobs.Register(q, river.WorkFunc(func(context.Context, *river.Job[tickJob]) error { return nil }))
	}, "after Start")
	require.Error(t, q.Start(context.Background()), "twice")
}

// TestStopDrains: Stop waits for a running job to finish.
func TestStopDrains(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	ctx := context.Background()
	started, release := make(chan struct{}), make(chan struct{})
	var finished atomic.Bool
	jobs.Register(db.Jobs(), river.WorkFunc(func(ctx context.Context, j *river.Job[markJob]) error {
		close(started)
		<-release
		finished.Store(true)
		return nil
	}))
	require.NoError(t, db.Jobs().Start(ctx))
	require.NoError(t, db.Jobs().Insert(ctx, markJob{Mark: "slow"}, nil))
	await(t, started, 30*time.Second, func(struct{}) bool { return true })
	stopped := make(chan error, 1)
	go func() { stopped <- db.Jobs().Stop(ctx) }()
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) while a job ran", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	select {
	case err := <-stopped:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("Stop did not return")
	}
	require.True(t, finished.Load())
}

type loadJob struct {
	N int `json:"n"`
}

func (loadJob) Kind() string { return "jobstest.load" }

// TestUnderLoad is the fitness test of River on each database: producers
// enqueue jobs in store transactions from several goroutines while 20
// workers run them, each job itself writing to the store in a transaction.
// Every job must run exactly once and nothing may fail: on SQLite this is
// where SQLITE_BUSY ("database is locked") would surface, in our
// transactions or in River's own (fetch, complete, leader election).
func TestUnderLoad(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("load test")
	}
	eachDB(t, func(t *testing.T, db *store.DB, logs *logLines) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		producers, each := 8, 40
		if raceEnabled {
			each = 10
		}
		total := producers * each

		var mu sync.Mutex
		runs := map[int]int{}
		done := make(chan struct{})
		jobs.Register(db.Jobs(), river.WorkFunc(func(ctx context.Context, j *river.Job[loadJob]) error {
			err := db.MailManager().InTx(ctx, func(tx mailmanager.Tx) error {
				return tx.Insert(ctx, &mailmanager.Resource{
					AccountID: "111111111111", Kind: mailmanager.KindArchive, ID: fmt.Sprintf("done-%d", j.Args.N),
				})
			})
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			runs[j.Args.N]++
			if len(runs) == total {
				close(done)
			}
			return nil
		}))
		failed, unsubscribe, err := func() (<-chan *river.Event, func(), error) {
			if err := db.Jobs().Start(ctx); err != nil {
				return nil, nil, err
			}
			return db.Jobs().Subscribe(river.EventKindJobFailed)
		}()
		require.NoError(t, err)
		defer unsubscribe()

		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, total)
		for p := range producers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					n := p*each + i
					errs <- db.MailManager().InTx(ctx, func(tx mailmanager.Tx) error {
						if err := tx.Insert(ctx, &mailmanager.Resource{
							AccountID: "111111111111", Kind: mailmanager.KindRuleSet, ID: fmt.Sprintf("rs-%d", n),
						}); err != nil {
							return err
						}
						return tx.Enqueue(ctx, loadJob{N: n})
					})
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		select {
		case <-done:
		case ev := <-failed:
			t.Fatalf("job %d failed: %+v", ev.Job.ID, ev.Job.Errors)
		case <-ctx.Done():
			mu.Lock()
			t.Fatalf("only %d of %d jobs ran", len(runs), total)
		}
		t.Logf("%s: %d jobs enqueued and run in %s", db.Dialect(), total, time.Since(start).Round(time.Millisecond))
		require.NoError(t, db.Jobs().Stop(ctx))
		mu.Lock()
		defer mu.Unlock()
		for n, c := range runs {
			require.Equal(t, 1, c, "job %d ran %d times", n, c)
		}
		select {
		case ev, ok := <-failed: // closed by Stop
			if ok {
				t.Fatalf("job %d failed: %+v", ev.Job.ID, ev.Job.Errors)
			}
		default:
		}
		for _, l := range logs.all() {
			require.NotRegexp(t, `(?i)database is locked|SQLITE_BUSY`, l)
		}
	})
}

type otherQueueJob struct{}

func (otherQueueJob) Kind() string { return "jobstest.other_queue" }

func (otherQueueJob) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: "jobstest_other"} }

// TestAddQueue: a job inserted into a queue added with AddQueue is worked,
// by that queue's workers.
func TestAddQueue(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, db *store.DB, logs *logLines) {
		ctx := context.Background()
		ran := make(chan string, 1)
		q := db.Jobs()
		q.AddQueue("jobstest_other", 2)
		require.Panics(t, func() { q.AddQueue("jobstest_other", 2) })
		jobs.Register(q, river.WorkFunc(func(ctx context.Context, j *river.Job[otherQueueJob]) error {
			ran <- j.Queue
			return nil
		}))
		require.NoError(t, q.Start(ctx))
		require.NoError(t, q.Insert(ctx, otherQueueJob{}, nil))
		await(t, ran, 30*time.Second, func(queue string) bool {
			require.Equal(t, "jobstest_other", queue)
			return true
		})
		require.Panics(t, func() { q.AddQueue("late", 1) })
	})
}
