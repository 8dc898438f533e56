// Package lease runs at once, in process, work that a process has just
// committed under a lease of its own instead of with a job. A job per
// item costs the job queue's insert inside the commit, its fetch and its
// completion; on SQLite all three are writes on the one writer that
// every accept waits for. The SMS service and the sending service use a
// Dispatcher each.
//
// Nothing is lost with the process: an item committed and not yet done
// keeps its lease, so its service queues its job at the node's next start
// (Recovering tells which leases that start may end) and its sweep does on
// any node once the lease has ended. A run that fails goes on as a job,
// with the queue's retries, as it would have.
package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/workpool"
)

const (
	// Duration is how long a lease lasts.
	Duration = 30 * time.Minute
	// Margin: an item still waiting for a worker when its lease is within
	// Margin of its end goes on as a job instead, so that no sweep queues
	// a job for an item being run.
	Margin = 5 * time.Minute
)

// Config is what a Dispatcher runs and how.
type Config[T any] struct {
	// Node is the node's ID (config.Node); Owner names start with it.
	Node string
	// Workers is how many items run at once.
	Workers int
	// Max bounds the items waiting for a worker: past it, Room reports
	// false and the service commits items with jobs.
	Max int
	// Run does the work of x, by the deadline of ctx. An error hands x to
	// Requeue.
	Run func(ctx context.Context, x T) error
	// Requeue ends x's lease, if x still holds the Dispatcher's, and
	// queues its job.
	Requeue func(x T)
	// Until is when x's lease ends.
	Until func(x T) time.Time
	Now   func() time.Time
}

// Dispatcher runs the items it is given on Config.Workers goroutines.
type Dispatcher[T any] struct {
	cfg Config[T]
	// owner names this process in the leases it takes: the node, then a
	// random part, so that a restarted node tells its dead process's
	// leases from its own.
	owner string
	pool  *workpool.Pool[T]
	// ctx ends the runs in progress when Stop gives up waiting for them.
	ctx    context.Context
	cancel context.CancelFunc
}

// New starts a Dispatcher.
func New[T any](cfg Config[T]) *Dispatcher[T] {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	d := &Dispatcher[T]{cfg: cfg, owner: cfg.Node + "/" + hex.EncodeToString(b)}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.pool = workpool.New(cfg.Workers, d.run)
	return d
}

// Owner is the owner name of the leases items are committed under.
func (d *Dispatcher[T]) Owner() string { return d.owner }

// Room reports whether items committed now should be leased: the
// Dispatcher runs and has room.
func (d *Dispatcher[T]) Room() bool { return d.pool.Room(d.cfg.Max) }

// Add hands x, committed under a lease of Owner's, to a worker; once the
// Dispatcher is stopped, to Requeue.
func (d *Dispatcher[T]) Add(x T) {
	if !d.pool.Add(x, nil) {
		d.cfg.Requeue(x)
	}
}

func (d *Dispatcher[T]) run(x T) {
	end := d.cfg.Until(x).Add(-Margin)
	if !d.cfg.Now().Before(end) {
		d.cfg.Requeue(x)
		return
	}
	ctx, cancel := context.WithDeadline(d.ctx, end)
	defer cancel()
	if err := d.cfg.Run(ctx, x); err != nil {
		d.cfg.Requeue(x)
	}
}

// Stop takes no more items, requeues those still waiting, and waits for
// the runs in progress until ctx ends (then cancels them: their leases
// stay, for the next start).
func (d *Dispatcher[T]) Stop(ctx context.Context) error {
	for _, x := range d.pool.Stop() {
		d.cfg.Requeue(x)
	}
	err := d.pool.Wait(ctx, d.cancel)
	d.cancel()
	return err
}

// Recovering returns which lease owners a process of node that is
// starting may release, its own (own) aside: with single (the embedded
// SQLite shape, where no other node can exist) every other one, which can
// only be a previous process's; on a shared database those of node's
// previous processes. It returns nil when nothing tells them apart (no
// node ID on a shared database): the sweep then releases them when their
// leases end.
func Recovering(node, own string, single bool) func(owner string) bool {
	if !single && node == "" {
		return nil
	}
	return func(owner string) bool {
		return owner != own && (single || strings.HasPrefix(owner, node+"/"))
	}
}

// Requeue ends the lease of the item get reads, in a transaction of
// inTx, with release (which also queues its job), when the item still
// holds own's lease: one run or released meanwhile, or gone, is left
// alone.
func Requeue[Tx, R any](inTx func(context.Context, func(Tx) error) error, get func(context.Context, Tx) (R, error),
	owner func(R) string, own string, release func(context.Context, Tx, R) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return inTx(ctx, func(tx Tx) error {
		x, err := get(ctx, tx)
		if fault.Is(err, fault.NotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if owner(x) != own {
			return nil
		}
		return release(ctx, tx, x)
	})
}

// Drain calls release, which ends up to batch leases in a transaction
// and says how many, until it ends fewer than batch. It returns how many
// it ended.
func Drain(ctx context.Context, batch int, release func(ctx context.Context, batch int) (int, error)) (int, error) {
	total := 0
	for {
		n, err := release(ctx, batch)
		total += n
		if err != nil || n < batch {
			return total, err
		}
	}
}

// ReleaseBatch is the release of Drain for a service's store: inTx runs
// a transaction of type Tx, leased lists up to n leased items in it, and
// release ends the lease of each (and queues its job).
func ReleaseBatch[Tx, R any](inTx func(context.Context, func(Tx) error) error, leased func(ctx context.Context, tx Tx, n int) ([]R, error),
	release func(context.Context, Tx, R) error) func(ctx context.Context, n int) (int, error) {
	return func(ctx context.Context, n int) (int, error) {
		done := 0
		err := inTx(ctx, func(tx Tx) error {
			items, err := leased(ctx, tx, n)
			if err != nil {
				return err
			}
			for _, x := range items {
				if err := release(ctx, tx, x); err != nil {
					return err
				}
			}
			done = len(items)
			return nil
		})
		return done, err
	}
}
