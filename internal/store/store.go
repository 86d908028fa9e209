// Package store holds what every storage backend shares: the sentinel
// errors backends return and the migrations runner. The backends live in
// sqlite/ and (later) postgres/; storetest/ is the conformance suite that
// every backend must pass.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Sentinels returned by every backend. Domain packages translate them to
// their own errors; they never reach the wire as they are.
var (
	ErrNotFound = errors.New("store: not found")
	ErrConflict = errors.New("store: conflict")
	// ErrSchemaTooNew is Migrate's refusal of a database that a newer
	// binary has migrated: this one would run on tables it does not know.
	ErrSchemaTooNew = errors.New("database schema is newer than this binary")
)

// Migrate applies, in order, each numbered NNNN_name.sql file of migrations
// that the database has not seen yet, each in its own transaction, and
// logs each one applied with its duration. Migrations are forward only: a
// file, once released, never changes, and a database that has a migration
// this binary does not know (a newer binary ran on it) is refused with
// ErrSchemaTooNew before anything is applied: an older binary would write
// rows the newer schema does not expect, or miss columns it relies on.
// Migration is one schema migration: its number and file name.
type Migration struct {
	Version int
	Name    string
}

// Migrations lists the migrations in dir (files NNNN_name.sql), oldest
// first. The last is the schema a database reaches once migrated.
func Migrations(dir fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(dir, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %q: name must start with a number and an underscore", name)
		}
		out = append(out, Migration{v, name})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

func Migrate(ctx context.Context, db *sql.DB, migrations fs.FS, placeholder string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name TEXT NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	todo, err := Migrations(migrations)
	if err != nil {
		return err
	}
	known := map[int]bool{}
	for _, m := range todo {
		known[m.Version] = true
	}
	applied, err := appliedMigrations(ctx, db)
	if err != nil {
		return err
	}
	newest := 0
	if len(todo) > 0 {
		newest = todo[len(todo)-1].Version
	}
	if err := checkNotNewer(applied, known, newest); err != nil {
		return err
	}
	for _, m := range todo {
		if _, seen := applied[m.Version]; seen {
			continue
		}
		body, err := fs.ReadFile(migrations, m.Name)
		if err != nil {
			return fmt.Errorf("read migration %s: %w", m.Name, err)
		}
		start := time.Now()
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("begin migration %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("apply migration %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name) VALUES ("+placeholder+", "+nextPlaceholder(placeholder)+")", m.Version, m.Name); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("record migration %s: %w", m.Name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("commit migration %s: %w", m.Name, err)
		}
		log.Info("migration applied", "version", m.Version, "name", m.Name, "duration", time.Since(start).Round(time.Microsecond).String())
	}
	return nil
}

// appliedMigrations reads schema_migrations: version to name.
func appliedMigrations(ctx context.Context, db *sql.DB) (map[int]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT version, name FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	applied := map[int]string{}
	for rows.Next() {
		var v int
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		applied[v] = name
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	return applied, nil
}

// checkNotNewer refuses a database with a migration this binary does not
// know, naming the database's newest migration and the binary's.
func checkNotNewer(applied map[int]string, known map[int]bool, newest int) error {
	unknown := -1
	for v := range applied {
		if !known[v] && v > unknown {
			unknown = v
		}
	}
	if unknown < 0 {
		return nil
	}
	dbNewest := unknown
	for v := range applied {
		dbNewest = max(dbNewest, v)
	}
	return fmt.Errorf("%w: the database is at schema version %d (%s), this binary knows versions up to %d; run the newer binary, or restore a backup taken before the upgrade",
		ErrSchemaTooNew, dbNewest, applied[dbNewest], newest)
}

func nextPlaceholder(p string) string {
	if p == "$1" {
		return "$2"
	}
	return p
}

// ScanStrings reads a one-column query's rows as strings and closes them:
// pass it a query's results directly, ScanStrings(db.QueryContext(…)).
func ScanStrings(rows *sql.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
