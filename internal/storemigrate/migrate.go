// Package storemigrate moves an embedded deployment to a cluster: it
// copies every table of a data dir's SQLite database into PostgreSQL and
// the data dir's media files into an S3 bucket, verifies the copy, and
// resumes an interrupted run where it stopped.
//
// The copy is generic: the tables and columns come from the databases'
// own catalogs (PRAGMA table_info, information_schema), so a table added
// by a later migration is copied without a change here. Both engines run
// the same numbered migrations, so at the same schema version they have
// the same tables and columns; only the value types differ (SQLite stores
// what it is given, PostgreSQL wants BIGINT, BOOLEAN, BYTEA…).
package storemigrate

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
	_ "modernc.org/sqlite"             // the "sqlite" driver

	"github.com/parleychat/parley/internal/app"
	"github.com/parleychat/parley/internal/blob"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/sqlstore"
)

// Errors a migration is refused or failed with.
var (
	// ErrTargetNotEmpty: the PostgreSQL database holds data that is not
	// an interrupted migration of this same source.
	ErrTargetNotEmpty = errors.New("target database is not empty")
	// ErrSchemaMismatch: the source is not at the schema version of this
	// binary (and so of the target it has just migrated).
	ErrSchemaMismatch = errors.New("source and target schema versions differ")
	// ErrVerify: the copy does not match the source.
	ErrVerify = errors.New("verification failed")
)

// IDFile is the file in the source data dir that names it for the target:
// a second run resumes only a migration of the same source.
const IDFile = "migrate.id"

// Bookkeeping tables in the target. They stay after the migration, as its
// record; the server never reads them.
const (
	sourceTable   = "parley_migrate"
	progressTable = "parley_migrate_progress"
)

// Options say what to migrate where.
type Options struct {
	// From is the embedded deployment's data dir (its server stopped).
	From string
	// To is the PostgreSQL URL or DSN.
	To string
	// Blobs receives the media files; nil skips them (with a warning).
	Blobs blob.Store
	// BatchRows bounds the rows of one INSERT (default 1000).
	BatchRows int
	// Log hears of progress (default: nowhere).
	Log *slog.Logger

	// stopInTable ends the run, as an interruption would, after the
	// first batch of that table is committed (tests).
	stopInTable string
}

// Report is what a run did.
type Report struct {
	// Resumed is true when the run continued an earlier one.
	Resumed bool
	// Tables lists each table copied with its row count in the source.
	Tables []TableCount
	// MediaFiles and MediaBytes count the media files in the source; all
	// of them are in the bucket when Run returns nil. MediaSkipped is true
	// without a blob store.
	MediaFiles   int
	MediaBytes   int64
	MediaSkipped bool
}

// TableCount is one table's row count.
type TableCount struct {
	Table string
	Rows  int64
}

// errStopped ends a run early for a test's interruption.
var errStopped = errors.New("stopped in the requested table")

// Run migrates opts.From into opts.To. It holds the data dir's lock
// throughout, so it refuses to run beside a server on the same dir and no
// server can start on it meanwhile: a row written to the source after its
// table was copied would be lost.
func Run(ctx context.Context, opts Options) (Report, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.BatchRows <= 0 {
		opts.BatchRows = 1000
	}
	var rep Report
	dbPath := filepath.Join(opts.From, sqlstore.FileName)
	if _, err := os.Stat(dbPath); err != nil {
		return rep, fmt.Errorf("source: %w", err)
	}
	release, err := app.LockDataDir(opts.From, "parley migrate")
	if err != nil {
		return rep, fmt.Errorf("source: %w (stop the server on it first)", err)
	}
	defer release()

	src, err := openSource(ctx, dbPath)
	if err != nil {
		return rep, err
	}
	defer src.Close()
	// OpenPostgres creates the schema exactly as a node would, and
	// refuses a database a newer binary has migrated. Two connections: it
	// holds one for its migration lock while migrating on another.
	st, err := sqlstore.OpenPostgres(ctx, opts.To, sqlstore.PostgresOptions{PoolSize: 2, AppName: "parley migrate", Log: opts.Log})
	if err != nil {
		return rep, fmt.Errorf("target: %w", err)
	}
	_ = st.Close()
	dst, err := sql.Open("pgx", opts.To)
	if err != nil {
		return rep, fmt.Errorf("target: %w", err)
	}
	defer dst.Close()
	dst.SetMaxOpenConns(2)

	if err := sameVersion(ctx, src, dst); err != nil {
		return rep, err
	}
	tables, err := tablesToCopy(ctx, src, dst)
	if err != nil {
		return rep, err
	}
	id, err := sourceID(opts.From)
	if err != nil {
		return rep, err
	}
	if rep.Resumed, err = claim(ctx, dst, id, dbPath, tables); err != nil {
		return rep, err
	}
	if rep.Resumed {
		opts.Log.Info("resuming the migration of this source")
	}
	for _, t := range tables {
		committed := func() error { return nil }
		if t == opts.stopInTable {
			committed = func() error { return errStopped }
		}
		if err := copyTable(ctx, src, dst, t, opts.BatchRows, committed, opts.Log); err != nil {
			return rep, fmt.Errorf("copy %s: %w", t, err)
		}
	}
	if opts.Blobs == nil {
		rep.MediaSkipped = true
		opts.Log.Warn("no --blob given: media files are not copied; copy " + filepath.Join(opts.From, "media") + " to the bucket before the nodes serve media")
	} else {
		n, size, err := copyMedia(ctx, opts.From, opts.Blobs, opts.Log)
		rep.MediaFiles, rep.MediaBytes = n, size
		if err != nil {
			return rep, fmt.Errorf("media: %w", err)
		}
	}
	counts, err := verify(ctx, src, dst, tables)
	rep.Tables = counts
	if err != nil {
		return rep, err
	}
	if _, err := dst.ExecContext(ctx, "UPDATE "+sourceTable+" SET finished_at = now()"); err != nil {
		return rep, fmt.Errorf("record the end: %w", err)
	}
	return rep, nil
}

// openSource opens the SQLite database for reading only. Not read-only
// mode: a server killed mid-write leaves a WAL that the first connection
// must be able to recover.
func openSource(ctx context.Context, path string) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "query_only(1)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// sameVersion compares the newest migration of each database. The target
// has just been migrated by this binary, so its version is the binary's.
// (PostgreSQL skips a few numbers SQLite needed, hence the newest only.)
func sameVersion(ctx context.Context, src, dst *sql.DB) error {
	var sv, dv int
	if err := src.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&sv); err != nil {
		return fmt.Errorf("source schema version: %w", err)
	}
	if err := dst.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&dv); err != nil {
		return fmt.Errorf("target schema version: %w", err)
	}
	switch {
	case sv < dv:
		return fmt.Errorf("%w: the source is at version %d, this binary at %d: run this binary's parley serve on the data dir once (it migrates at start), stop it, and migrate again", ErrSchemaMismatch, sv, dv)
	case sv > dv:
		return fmt.Errorf("%w: the source is at version %d, this binary only knows up to %d: migrate with the binary that last served the data dir", ErrSchemaMismatch, sv, dv)
	}
	return nil
}

// tablesToCopy is every table of the schema, in name order, checked to
// exist in both databases.
func tablesToCopy(ctx context.Context, src, dst *sql.DB) ([]string, error) {
	srcTables, err := list(ctx, src, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite%' ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("source tables: %w", err)
	}
	dstTables, err := list(ctx, dst, "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name")
	if err != nil {
		return nil, fmt.Errorf("target tables: %w", err)
	}
	skip := func(t string) bool { return t == "schema_migrations" || t == sourceTable || t == progressTable }
	srcTables = slices.DeleteFunc(srcTables, skip)
	dstTables = slices.DeleteFunc(dstTables, skip)
	slices.Sort(srcTables)
	slices.Sort(dstTables)
	if !slices.Equal(srcTables, dstTables) {
		return nil, fmt.Errorf("%w: the source has tables %v, the target %v", ErrSchemaMismatch, missing(srcTables, dstTables), missing(dstTables, srcTables))
	}
	return srcTables, nil
}

// missing is what a has and b lacks.
func missing(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

func list(ctx context.Context, db *sql.DB, q string, args ...any) ([]string, error) {
	return store.ScanStrings(db.QueryContext(ctx, q, args...))
}

// sourceID reads the data dir's migration id, creating it on the first
// run. It is the one file migrate writes in the source, beside the
// database, never in it.
func sourceID(dir string) (string, error) {
	path := filepath.Join(dir, IDFile)
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	raw := make([]byte, 16)
	_, _ = rand.Read(raw)
	id := hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return id, nil
}

// claim records that the target receives this source, or finds that it
// already does (resumed). A target claimed by another source, or holding
// rows without any claim, is refused: copying into it would mix two
// deployments' users and conversations.
func claim(ctx context.Context, dst *sql.DB, id, path string, tables []string) (resumed bool, err error) {
	for _, q := range []string{
		"CREATE TABLE IF NOT EXISTS " + sourceTable + ` (
			source_id TEXT NOT NULL,
			source_path TEXT NOT NULL,
			started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
			finished_at TIMESTAMPTZ
		)`,
		"CREATE TABLE IF NOT EXISTS " + progressTable + ` (
			table_name TEXT PRIMARY KEY,
			last_key TEXT,
			rows BIGINT NOT NULL DEFAULT 0,
			done BOOLEAN NOT NULL DEFAULT false
		)`,
	} {
		if _, err := dst.ExecContext(ctx, q); err != nil {
			return false, fmt.Errorf("create %s: %w", strings.Fields(q)[5], err)
		}
	}
	tx, err := dst.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer func() { _ = tx.Rollback() }()
	// Two migrations started into one target at once: one claims it.
	if _, err := tx.ExecContext(ctx, "LOCK TABLE "+sourceTable+" IN EXCLUSIVE MODE"); err != nil {
		return false, fmt.Errorf("lock %s: %w", sourceTable, err)
	}
	var owner, ownerPath string
	err = tx.QueryRowContext(ctx, "SELECT source_id, source_path FROM "+sourceTable).Scan(&owner, &ownerPath)
	switch {
	case err == nil && owner == id:
		return true, tx.Commit()
	case err == nil:
		return false, fmt.Errorf("%w: it holds a migration of another data dir (%s, id %s; this one is %s): migrate into an empty database", ErrTargetNotEmpty, ownerPath, owner, id)
	case !errors.Is(err, sql.ErrNoRows):
		return false, fmt.Errorf("read %s: %w", sourceTable, err)
	}
	for _, t := range tables {
		var any bool
		if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM "+quote(t)+")").Scan(&any); err != nil {
			return false, fmt.Errorf("check %s: %w", t, err)
		}
		if any {
			return false, fmt.Errorf("%w: table %s has rows (a server has used it, or another tool wrote it): migrate into an empty database", ErrTargetNotEmpty, t)
		}
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+sourceTable+" (source_id, source_path) VALUES ($1, $2)", id, path); err != nil {
		return false, fmt.Errorf("claim the target: %w", err)
	}
	return false, tx.Commit()
}

// quote makes a catalog name an SQL identifier (both engines).
func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }
