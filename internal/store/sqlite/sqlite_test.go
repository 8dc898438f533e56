package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/store"
	"github.com/tidings/tidings/internal/store/sqlite"
	"github.com/tidings/tidings/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) *store.DB { return storetest.OpenSQLite(t) })
}

// TestPragmas: every connection of the pool runs with the settings the
// store's durability and concurrency depend on.
func TestPragmas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	write, read, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "x.db"))
	require.NoError(t, err)
	defer write.Close()
	defer read.Close()
	// Hold several connections at once so that more than one is checked.
	var conns []interface{ Close() error }
	for i := range 4 {
		db := read
		if i == 0 {
			db = write
		}
		c, err := db.Conn(ctx)
		require.NoError(t, err)
		conns = append(conns, c)
		var mode string
		var sync, fk, busy int
		require.NoError(t, c.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode))
		require.NoError(t, c.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync))
		require.NoError(t, c.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk))
		require.NoError(t, c.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&busy))
		require.Equal(t, "wal", mode)
		require.Equal(t, 1, sync, "synchronous=NORMAL: the store fsyncs the log itself (WALSync)")
		require.Equal(t, 1, fk)
		require.Equal(t, sqlite.BusyTimeoutMS, busy)
		if db == write {
			_, err = c.ExecContext(ctx, `CREATE TABLE t (x INTEGER)`)
			require.NoError(t, err)
		}
		_, err = c.ExecContext(ctx, `INSERT INTO t VALUES (1)`)
		if db == read {
			require.Error(t, err, "the read pool is query_only")
		} else {
			require.NoError(t, err)
		}
	}
	for _, c := range conns {
		require.NoError(t, c.Close())
	}
}

// TestReopen: data survive a close and a second Open of the same data
// directory, which finds its migrations applied.
func TestReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, "", dir, nil)
	require.NoError(t, err)
	require.NoError(t, db.IAM().PutSetting(ctx, "k", "v"))
	require.NoError(t, db.Close())
	require.FileExists(t, filepath.Join(dir, store.FileName))

	db, err = store.Open(ctx, "", dir, nil)
	require.NoError(t, err)
	defer db.Close()
	v, ok, err := db.IAM().GetSetting(ctx, "k")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "v", v)
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, err := store.Open(ctx, "mysql://u:secret@h/db", t.TempDir(), nil)
	require.ErrorContains(t, err, `"mysql"`)
	require.NotContains(t, err.Error(), "secret")
	_, err = store.Open(ctx, "", "", nil)
	require.Error(t, err)
	_, err = store.Open(ctx, "", filepath.Join(t.TempDir(), "a?b"), nil)
	require.Error(t, err)
}

func TestGatewayConformance(t *testing.T) {
	t.Parallel()
	storetest.RunGateway(t, func(t *testing.T) *store.DB { return storetest.OpenSQLite(t) })
}

func TestSMSConformance(t *testing.T) {
	t.Parallel()
	storetest.RunSMS(t, func(t *testing.T) *store.DB { return storetest.OpenSQLite(t) })
}

func TestSendingConformance(t *testing.T) {
	t.Parallel()
	storetest.RunSending(t, func(t *testing.T) *store.DB { return storetest.OpenSQLite(t) })
}
