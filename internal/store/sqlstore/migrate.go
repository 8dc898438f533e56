package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migration is one versioned schema step.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations reads the NNNN_name.sql files of fsys, ordered by version.
func Migrations(fsys fs.FS) ([]Migration, error) {
	var ms []Migration
	seen := map[int]string{}
	err := fs.WalkDir(fsys, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || path.Ext(p) != ".sql" {
			return err
		}
		base := path.Base(p)
		num, name, ok := strings.Cut(strings.TrimSuffix(base, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return fmt.Errorf("migration %s: want NNNN_name.sql", p)
		}
		if other, dup := seen[v]; dup {
			return fmt.Errorf("migrations %s and %s share version %d", other, p, v)
		}
		seen[v] = p
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b)})
		return nil
	})
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	return ms, err
}

// Migrate applies the dialect's migrations that db lacks, each in its own
// transaction together with its schema_migrations row, then runs after (River's
// migrations) while still holding the dialect's migration lock, so that two
// processes starting at once migrate one after the other.
func Migrate(ctx context.Context, db *sql.DB, d Dialect, log *slog.Logger, after func(context.Context) error) (err error) {
	ms, err := Migrations(d.Migrations())
	if err != nil {
		return err
	}
	unlock, err := d.LockMigrations(ctx, db)
	if err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	defer func() {
		if uerr := unlock(context.WithoutCancel(ctx)); uerr != nil {
			err = errors.Join(err, fmt.Errorf("migrate: unlock: %w", uerr))
		}
	}()
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    BIGINT NOT NULL PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: schema_migrations: %w", err)
	}
	for _, m := range ms {
		if err := apply(ctx, db, d, m, log); err != nil {
			return err
		}
	}
	if after != nil {
		return after(ctx)
	}
	return nil
}

func apply(ctx context.Context, db *sql.DB, d Dialect, m Migration, log *slog.Logger) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate %04d: %w", m.Version, err)
	}
	defer tx.Rollback()
	// Checked inside the transaction: on SQLite, where the lock is the
	// transaction itself, another process may have applied it meanwhile.
	var n int
	if err := tx.QueryRowContext(ctx, d.Rebind(`SELECT count(*) FROM schema_migrations WHERE version = ?`), m.Version).Scan(&n); err != nil {
		return fmt.Errorf("migrate %04d: %w", m.Version, err)
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("migrate %04d_%s: %w", m.Version, m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, d.Rebind(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
		m.Version, m.Name, time.Now().UnixMilli()); err != nil {
		return fmt.Errorf("migrate %04d: %w", m.Version, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate %04d: %w", m.Version, err)
	}
	if log != nil {
		log.Info("applied migration", "dialect", d.Name(), "version", m.Version, "name", m.Name)
	}
	return nil
}
