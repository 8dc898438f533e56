package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStmtCache(t *testing.T) {
	ctx := context.Background()
	dsn, err := DSN(filepath.Join(t.TempDir(), "t.db"), false)
	require.NoError(t, err)
	c, err := newConnector(dsn)
	require.NoError(t, err)
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(1)
	defer db.Close()

	// A script of several statements runs whole.
	_, err = db.ExecContext(ctx, `CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a'); INSERT INTO t VALUES (2, 'b')`)
	require.NoError(t, err)
	var n int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n))
	require.Equal(t, 2, n)

	// The same statement many times, with different arguments: kept and reset.
	for i := 3; i < 50; i++ {
		_, err := db.ExecContext(ctx, `INSERT INTO t (k, v) VALUES (?, ?)`, i, "x")
		require.NoError(t, err)
	}
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n))
	require.Equal(t, 49, n)

	// A query run again while its rows are open (same text) gets its own
	// statement; both read correctly.
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	const q = `SELECT k FROM t WHERE k <= ? ORDER BY k`
	outer, err := conn.QueryContext(ctx, q, 3)
	require.NoError(t, err)
	var got []int
	for outer.Next() {
		var k int
		require.NoError(t, outer.Scan(&k))
		inner, err := conn.QueryContext(ctx, q, k)
		require.NoError(t, err)
		m := 0
		for inner.Next() {
			m++
		}
		require.NoError(t, inner.Close())
		require.Equal(t, k, m)
		got = append(got, k)
	}
	require.NoError(t, outer.Err())
	require.NoError(t, outer.Close())
	require.Equal(t, []int{1, 2, 3}, got)

	// A constraint error leaves the statement usable.
	_, err = conn.ExecContext(ctx, `INSERT INTO t (k, v) VALUES (?, ?)`, 1, "dup")
	require.Error(t, err)
	_, err = conn.ExecContext(ctx, `INSERT INTO t (k, v) VALUES (?, ?)`, 100, "ok")
	require.NoError(t, err)

	// Schema changes re-prepare kept statements.
	_, err = conn.ExecContext(ctx, `ALTER TABLE t ADD COLUMN w TEXT DEFAULT 'w'`)
	require.NoError(t, err)
	var v, w string
	require.NoError(t, conn.QueryRowContext(ctx, `SELECT * FROM t WHERE k = ?`, 100).Scan(new(int), &v, &w))
	require.Equal(t, "w", w)
}

// TestStmtCacheEviction: beyond its size the connection finalizes the
// least recently used statements, but not one whose rows are open.
func TestStmtCacheEviction(t *testing.T) {
	ctx := context.Background()
	dsn, err := DSN(filepath.Join(t.TempDir(), "t.db"), false)
	require.NoError(t, err)
	base, err := newConnector(dsn)
	require.NoError(t, err)
	raw, err := base.(connector).Connector.Connect(ctx)
	require.NoError(t, err)
	cc := newCachingConn(raw, 2).(*cachingConn)
	defer cc.Close()

	_, err = cc.ExecContext(ctx, `CREATE TABLE t (k INTEGER)`, nil)
	require.NoError(t, err)
	_, err = cc.ExecContext(ctx, `INSERT INTO t VALUES (1), (2)`, nil)
	require.NoError(t, err)
	rows, err := cc.QueryContext(ctx, `SELECT k FROM t`, nil)
	require.NoError(t, err)
	held := cc.stmts[`SELECT k FROM t`].Value.(*cachedStmt)
	for _, q := range []string{`SELECT 1`, `SELECT 2`, `SELECT 3`} {
		r, err := cc.QueryContext(ctx, q, nil)
		require.NoError(t, err)
		require.NoError(t, r.Close())
	}
	require.Equal(t, 2, cc.lru.Len())
	require.True(t, held.evicted, "evicted while its rows were open")
	require.NoError(t, rows.Close()) // finalizes it now
	require.False(t, held.busy)
}
