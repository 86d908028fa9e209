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
	"sort"
	"strconv"
	"strings"
)

// Sentinels returned by every backend. Domain packages translate them to
// their own errors; they never reach the wire as they are.
var (
	ErrNotFound = errors.New("store: not found")
	ErrConflict = errors.New("store: conflict")
)

// Migrate applies, in order, each numbered NNNN_name.sql file of migrations
// that the database has not seen yet, each in its own transaction.
// Migrations are forward only: a file, once released, never changes.
func Migrate(ctx context.Context, db *sql.DB, migrations fs.FS, placeholder string) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name TEXT NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	entries, err := fs.ReadDir(migrations, ".")
	if err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	type migration struct {
		version int
		name    string
	}
	var todo []migration
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return fmt.Errorf("migration %q: name must start with a number and an underscore", name)
		}
		todo = append(todo, migration{v, name})
	}
	sort.Slice(todo, func(i, j int) bool { return todo[i].version < todo[j].version })
	for _, m := range todo {
		var seen int
		err := db.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE version = "+placeholder, m.version).Scan(&seen)
		if err != nil {
			return fmt.Errorf("check migration %d: %w", m.version, err)
		}
		if seen > 0 {
			continue
		}
		body, err := fs.ReadFile(migrations, m.name)
		if err != nil {
			return fmt.Errorf("read migration %s: %w", m.name, err)
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("begin migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("apply migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name) VALUES ("+placeholder+", "+nextPlaceholder(placeholder)+")", m.version, m.name); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("record migration %s: %w", m.name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("commit migration %s: %w", m.name, err)
		}
	}
	return nil
}

func nextPlaceholder(p string) string {
	if p == "$1" {
		return "$2"
	}
	return p
}
