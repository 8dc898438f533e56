package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/store/sqlite"
)

// TestCheckpointer: the writer leaves the log alone (wal_autocheckpoint=0)
// however much it writes; the Checkpointer copies it into the database
// file, and the log then restarts from its beginning instead of growing.
func TestCheckpointer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	write, read, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	defer write.Close()
	defer read.Close()
	_, err = write.ExecContext(ctx, `CREATE TABLE t (v TEXT)`)
	require.NoError(t, err)
	fill := func() {
		for range 40 { // 40 × 100 KB: past the 1,000 pages SQLite would checkpoint at
			_, err := write.ExecContext(ctx, `INSERT INTO t VALUES (?)`, strings.Repeat("x", 100<<10))
			require.NoError(t, err)
		}
	}
	size := func(p string) int64 {
		fi, err := os.Stat(p)
		require.NoError(t, err)
		return fi.Size()
	}
	fill()
	require.Less(t, size(path), int64(1<<20), "the writer did not checkpoint")
	wal := size(path + "-wal")
	require.Greater(t, wal, int64(3<<20))

	c, err := sqlite.StartCheckpointer(ctx, path, nil)
	require.NoError(t, err)
	defer c.Close()
	require.Eventually(t, func() bool { return size(path) > 3<<20 }, 10*time.Second, 20*time.Millisecond,
		"the checkpointer copies the log into the database")
	// Copied, the log is written again from its start: it stops growing.
	for range 3 {
		time.Sleep(3 * sqlite.CheckpointEvery)
		fill()
	}
	require.Less(t, size(path+"-wal"), 3*wal, "the log restarts once checkpointed")
}
