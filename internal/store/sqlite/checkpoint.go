package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// CheckpointEvery is how often the Checkpointer copies the write-ahead
// log into the database file.
const CheckpointEvery = 200 * time.Millisecond

// Checkpointer copies the write-ahead log into the database file from a
// connection of its own, so that the writer never does.
//
// Left to itself, SQLite checkpoints in the connection whose commit took
// the log past 1,000 pages: that commit copies 4 MB into the database
// file and, with synchronous=NORMAL, fsyncs the log and the database
// before it returns, holding the one writer connection all the while
// (every other write of the process waits). The writer runs with
// wal_autocheckpoint=0 instead, and this checkpoints PASSIVE every
// CheckpointEvery: it takes no write lock, so commits go on while it
// copies and fsyncs, and the log restarts from its beginning once all of
// it is in the database and no reader still needs it.
type Checkpointer struct {
	db   *sql.DB
	log  *slog.Logger
	stop chan struct{}
	done sync.WaitGroup
}

// StartCheckpointer starts checkpointing the database file at path.
func StartCheckpointer(ctx context.Context, path string, log *slog.Logger) (*Checkpointer, error) {
	db, err := open(ctx, path, false, 1)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Checkpointer{db: db, log: log, stop: make(chan struct{})}
	c.done.Go(c.loop)
	return c, nil
}

func (c *Checkpointer) loop() {
	t := time.NewTicker(CheckpointEvery)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		err := c.Checkpoint(context.Background())
		switch {
		case err != nil && !failing:
			c.log.Warn("checkpointing the database's write-ahead log; it grows until this works again", "err", err)
		case err == nil && failing:
			c.log.Info("checkpointing the database's write-ahead log works again")
		}
		failing = err != nil
	}
}

// Checkpoint copies what it can of the log into the database now.
func (c *Checkpointer) Checkpoint(ctx context.Context) error {
	var busy, frames, copied int
	if err := c.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied); err != nil {
		return fmt.Errorf("sqlite: checkpoint: %w", err)
	}
	return nil
}

// Close stops checkpointing; SQLite checkpoints what is left when the
// last connection closes.
func (c *Checkpointer) Close() error {
	close(c.stop)
	c.done.Wait()
	return c.db.Close()
}
