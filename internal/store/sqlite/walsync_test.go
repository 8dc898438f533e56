package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/durable"
	"github.com/tidings/tidings/internal/gateway"
	"github.com/tidings/tidings/internal/store/sqlite"
	"github.com/tidings/tidings/internal/store/sqlstore"
)

// TestWALSync: the log exists once something is committed and Sync fsyncs
// it; concurrent callers all return; a database without a log (nothing
// written yet) syncs trivially.
func TestWALSync(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	w := sqlite.NewWALSync(path)
	require.NoError(t, w.Sync(), "no log yet")
	write, read, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	defer write.Close()
	defer read.Close()
	_, err = write.ExecContext(ctx, `CREATE TABLE t (x INTEGER)`)
	require.NoError(t, err)
	_, err = os.Stat(path + "-wal")
	require.NoError(t, err, "the log")
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() { require.NoError(t, w.Sync()) })
	}
	wg.Wait()
}

// TestCommitsSync: the store makes every commit durable through its sync
// function, except the lazy ones (package durable); a failing sync fails
// the commit's caller, as storage unavailable.
func TestCommitsSync(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	write, read, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	defer write.Close()
	defer read.Close()
	require.NoError(t, sqlstore.Migrate(ctx, write, sqlite.Dialect{}, nil, nil))
	st := sqlstore.New(write, read, sqlite.Dialect{}, nil)
	var syncs atomic.Int32
	var fail atomic.Bool
	st.SetSync(func() error {
		syncs.Add(1)
		if fail.Load() {
			return os.ErrDeadlineExceeded
		}
		return nil
	})
	gw := st.Gateway()
	tx := func(ctx context.Context) error {
		return gw.InTx(ctx, func(gateway.Tx) error { return nil })
	}
	require.NoError(t, tx(ctx))
	require.EqualValues(t, 1, syncs.Load(), "a durable commit syncs")
	require.NoError(t, tx(durable.Lazy(ctx)))
	require.EqualValues(t, 1, syncs.Load(), "a lazy one does not")
	fail.Store(true)
	err = tx(ctx)
	require.Error(t, err)
	require.Contains(t, err.Error(), "durable")
}
