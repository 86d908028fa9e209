// Package sqlstore is Parley's one implementation of every domain's store
// interface, in SQL, for two engines: SQLite, the embedded default (one
// file in WAL mode, through modernc.org/sqlite: pure Go, so the binary
// stays static and cross-compiles without cgo), and PostgreSQL for a
// cluster (postgres.go). Queries are written once; a small dialect
// (db.go) adapts them.
//
// Writes go through a single connection, reads through a pool: SQLite
// allows one writer at a time anyway, and a single writer connection turns
// lock contention into an ordinary queue. The domain services batch their
// writes (group commit), so one transaction and one fsync carry many
// messages.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/parleychat/parley/internal/store"
)

//go:embed migrations/*.sql migrations_pg/*.sql
var migrationFiles embed.FS

// FileName is the database file inside the data directory.
const FileName = "parley.db"

// Store is the SQL implementation of every domain's store interface, on
// SQLite or PostgreSQL.
type Store struct {
	w db // writes: SQLite's one writer connection, or PostgreSQL's pool
	r db // reads
	d *dialect
	// statements counts the statements run outside transactions.
	statements *atomic.Int64
}

// Statements reports how many statements the store has run outside
// transactions: each is a round trip to the engine.
func (s *Store) Statements() int64 { return s.statements.Load() }

// Open opens (creating if needed) the database in dir and migrates it.
func Open(ctx context.Context, dir string) (*Store, error) {
	return OpenSQLite(ctx, dir, SQLiteOptions{})
}

// SQLiteOptions tune OpenSQLite.
type SQLiteOptions struct {
	// Log hears of each migration applied (default: nowhere).
	Log *slog.Logger
}

// OpenSQLite is Open with options.
func OpenSQLite(ctx context.Context, dir string, opts SQLiteOptions) (*Store, error) {
	path := filepath.Join(dir, FileName)
	if err := ownerOnly(path); err != nil {
		return nil, err
	}
	// synchronous(FULL): a commit is fsynced before it returns, so "sent"
	// survives power loss, not only a process crash.
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(OFF)")
	// A statement writing many rows in a transaction keeps a journal of
	// its own, to undo itself alone on error: in memory, not a temp file
	// written (with a syscall per page) on every commit cycle.
	q.Add("_pragma", "temp_store(MEMORY)")
	q.Add("_txlock", "immediate")
	w, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := incrementalVacuum(ctx, w); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	if err := store.Migrate(ctx, w, sub, "?", opts.Log); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}

	rq := url.Values{}
	rq.Add("_pragma", "busy_timeout(10000)")
	rq.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", "file:"+path+"?"+rq.Encode())
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open %s for reading: %w", path, err)
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxIdleTime(0)
	count := new(atomic.Int64)
	return &Store{w: newDB(w, sqliteDialect, count), r: newDB(r, sqliteDialect, count), d: sqliteDialect, statements: count}, nil
}

// incrementalVacuum makes deleted space returnable to the file system
// (Reclaim). The mode must be set before the first table exists; a database
// created without it is converted once, by a full VACUUM.
func incrementalVacuum(ctx context.Context, db *sql.DB) error {
	var mode int
	if err := db.QueryRowContext(ctx, "PRAGMA auto_vacuum").Scan(&mode); err != nil {
		return fmt.Errorf("read auto_vacuum: %w", err)
	}
	const incremental = 2
	if mode == incremental {
		return nil
	}
	if _, err := db.ExecContext(ctx, "PRAGMA auto_vacuum = INCREMENTAL"); err != nil {
		return fmt.Errorf("set auto_vacuum: %w", err)
	}
	var tables int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&tables); err != nil {
		return err
	}
	if tables > 0 {
		if _, err := db.ExecContext(ctx, "VACUUM"); err != nil {
			return fmt.Errorf("vacuum into incremental mode: %w", err)
		}
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	if s.r.DB == s.w.DB {
		return s.w.Close()
	}
	return errors.Join(s.r.Close(), s.w.Close())
}

// Ping checks that the database answers, for readiness.
func (s *Store) Ping(ctx context.Context) error { return s.r.PingContext(ctx) }

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v) }

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// ownerOnly creates the database file readable by its owner only (0600),
// or narrows an existing one and its WAL and shared-memory files: they hold
// every message. SQLite gives the -wal and -shm files it creates later the
// database file's permissions.
func ownerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	_ = f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("chmod %s: %w", p, err)
		}
	}
	return nil
}

// optMS is t in Unix ms, 0 for the zero time (a rowSet's NULL, see
// nullif in the insert of sends.go).
func optMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return ms(t)
}

// Pools yields the connection pools' statistics, by name: SQLite's
// "write" (its one writer connection) and "read"; PostgreSQL's one pool,
// "shared".
func (s *Store) Pools() iter.Seq2[string, sql.DBStats] {
	return func(yield func(string, sql.DBStats) bool) {
		if s.w.DB == s.r.DB {
			yield("shared", s.w.Stats())
			return
		}
		if yield("write", s.w.Stats()) {
			yield("read", s.r.Stats())
		}
	}
}
