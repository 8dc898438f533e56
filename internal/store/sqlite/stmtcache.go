package sqlite

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
	"reflect"

	"modernc.org/sqlite"
)

// StmtCacheSize bounds the prepared statements kept per connection. The
// store and River run a few hundred distinct statements; the least
// recently used beyond this are finalized.
const StmtCacheSize = 400

// connector opens modernc.org/sqlite connections that keep their
// prepared statements. database/sql prepares, runs and finalizes a
// statement for every Exec and Query that is not explicitly prepared, and
// SQLite's parser and planner then cost as much CPU as running the
// statement (15% of the gateway's CPU under load, in pprof). With one
// writer connection for everything, keeping the compiled statements per
// connection takes that away without any change to the queries.
type connector struct{ driver.Connector }

func newConnector(dsn string) (driver.Connector, error) {
	base, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return connector{base}, nil
}

func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return newCachingConn(conn, StmtCacheSize), nil
}

// innerConn is what cachingConn needs of a driver connection;
// modernc.org/sqlite's has all of it.
type innerConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

type innerStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// cachingConn runs Exec and Query through statements it keeps, keyed by
// their text. database/sql uses a connection from one goroutine at a
// time, so it needs no lock; a statement still being read (its rows open)
// is busy, and the same text run meanwhile gets a statement of its own.
type cachingConn struct {
	innerConn
	max   int
	lru   *list.List // of *cachedStmt, most recent first
	stmts map[string]*list.Element
}

type cachedStmt struct {
	query string
	stmt  innerStmt
	busy  bool // rows over it are open
	// evicted: finalize when the open rows close.
	evicted bool
}

func newCachingConn(conn driver.Conn, max int) driver.Conn {
	ic, ok := conn.(innerConn)
	if !ok {
		return conn // not the driver this was written for: no cache
	}
	return &cachingConn{innerConn: ic, max: max, lru: list.New(), stmts: map[string]*list.Element{}}
}

// get returns the kept statement of query, prepared now if needed, or nil
// when it is busy (the caller runs query uncached).
func (c *cachingConn) get(ctx context.Context, query string) (*cachedStmt, error) {
	if e, ok := c.stmts[query]; ok {
		cs := e.Value.(*cachedStmt)
		if cs.busy {
			return nil, nil
		}
		c.lru.MoveToFront(e)
		return cs, nil
	}
	st, err := c.innerConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	is, ok := st.(innerStmt)
	if !ok {
		st.Close()
		return nil, nil
	}
	cs := &cachedStmt{query: query, stmt: is}
	c.stmts[query] = c.lru.PushFront(cs)
	for c.lru.Len() > c.max {
		old := c.lru.Back()
		ocs := old.Value.(*cachedStmt)
		c.lru.Remove(old)
		delete(c.stmts, ocs.query)
		if ocs.busy {
			ocs.evicted = true
		} else {
			ocs.stmt.Close() // finalize errors carry nothing for the caller
		}
	}
	return cs, nil
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.innerConn.ExecContext(ctx, query, args)
	}
	return cs.stmt.ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.innerConn.QueryContext(ctx, query, args)
	}
	rows, err := cs.stmt.QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	cs.busy = true
	return &cachedRows{Rows: rows, cs: cs}, nil
}

// Unwrap returns the driver's connection (modernc.org/sqlite's Limit
// looks for it).
func (c *cachingConn) Unwrap() driver.Conn { return c.innerConn }

// Close finalizes the kept statements, then closes the connection.
func (c *cachingConn) Close() error {
	var errs []error
	for e := c.lru.Front(); e != nil; e = e.Next() {
		errs = append(errs, e.Value.(*cachedStmt).stmt.Close())
	}
	c.lru.Init()
	clear(c.stmts)
	return errors.Join(append(errs, c.innerConn.Close())...)
}

// cachedRows releases its statement when closed.
type cachedRows struct {
	driver.Rows
	cs     *cachedStmt
	closed bool
}

func (r *cachedRows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.Rows.Close() // resets the statement for its next use
	r.cs.busy = false
	if r.cs.evicted {
		err = errors.Join(err, r.cs.stmt.Close())
	}
	return err
}

// The column type methods database/sql looks for, passed through.

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypeNullable(i int) (bool, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}
