package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/tidings/tidings/internal/groupcommit"
)

// WALSync makes the commits of the writer pool durable. The writer runs
// with synchronous=NORMAL: a commit is appended to the write-ahead log
// without an fsync (SQLite fsyncs the log before each checkpoint, and the
// database after it). A commit that must survive a power cut then calls
// Sync, which fsyncs the log, once for all the commits that asked while
// the previous fsync ran. So fsyncs no longer hold the one writer
// connection, concurrent commits share them, and commits that need no
// fsync (the job queue's bookkeeping, lazy transactions: see package
// durable) pay for none, while still surviving a crash of the process.
type WALSync struct {
	path string
	g    *groupcommit.Group[struct{}]
}

// NewWALSync returns the syncer of the database file at path.
func NewWALSync(path string) *WALSync {
	w := &WALSync{path: path + "-wal"}
	w.g = groupcommit.New(0, w.fsync)
	return w
}

// Sync returns once every commit that returned before it was called is on
// disk.
func (w *WALSync) Sync() error { return w.g.Do(struct{}{}) }

func (w *WALSync) fsync([]struct{}) error {
	f, err := os.Open(w.path)
	if errors.Is(err, fs.ErrNotExist) {
		// No log: everything is in the database file, which SQLite
		// fsyncs after every checkpoint.
		return nil
	}
	if err != nil {
		return fmt.Errorf("sqlite: sync %s: %w", w.path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sqlite: sync %s: %w", w.path, err)
	}
	return f.Close()
}
