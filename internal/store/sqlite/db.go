package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect is what differs between the SQL engines this package speaks.
// Queries are written once, with `?` placeholders and greatest(a, b);
// the dialect rewrites them for its engine (once per query text).
type dialect struct {
	name string
	// numbered rewrites `?` to $1, $2, ... (PostgreSQL).
	numbered bool
	// greatest is the two-argument maximum: max( in SQLite, GREATEST( in
	// PostgreSQL.
	greatest string
	// forUpdate locks selected rows to the end of the transaction where
	// several writers exist; SQLite's single writer holds the whole
	// database already.
	forUpdate string

	cache sync.Map // query text -> rewritten text
}

var (
	sqliteDialect   = &dialect{name: "sqlite", greatest: "max(", forUpdate: ""}
	postgresDialect = &dialect{name: "postgres", numbered: true, greatest: "GREATEST(", forUpdate: " FOR UPDATE"}
)

func (d *dialect) rewrite(q string) string {
	if v, ok := d.cache.Load(q); ok {
		return v.(string)
	}
	out := strings.ReplaceAll(q, "greatest(", d.greatest)
	if d.numbered {
		var b strings.Builder
		n := 0
		for i := 0; i < len(out); i++ {
			if out[i] == '?' {
				n++
				b.WriteByte('$')
				b.WriteString(strconv.Itoa(n))
				continue
			}
			b.WriteByte(out[i])
		}
		out = b.String()
	}
	// Queries built with a varying number of placeholders would grow the
	// cache without bound; only fixed texts are worth keeping.
	if strings.Count(q, "?") <= 16 {
		d.cache.Store(q, out)
	}
	return out
}

// db is a *sql.DB that speaks the dialect.
type db struct {
	*sql.DB
	d *dialect
}

func (c db) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return c.DB.ExecContext(ctx, c.d.rewrite(q), args...)
}

func (c db) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return c.DB.QueryContext(ctx, c.d.rewrite(q), args...)
}

func (c db) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return c.DB.QueryRowContext(ctx, c.d.rewrite(q), args...)
}

// Tx is a transaction that speaks the dialect.
type Tx struct {
	tx *sql.Tx
	d  *dialect
}

// ExecContext runs a statement in the transaction.
func (t *Tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.d.rewrite(q), args...)
}

// QueryContext runs a query in the transaction.
func (t *Tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, t.d.rewrite(q), args...)
}

// QueryRowContext runs a one-row query in the transaction.
func (t *Tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.d.rewrite(q), args...)
}

// maxTxAttempts bounds the retries of a transaction that PostgreSQL
// aborted to break a deadlock or a serialization conflict: the whole
// transaction is atomic, so running it again is safe.
const maxTxAttempts = 5

// tx runs fn in a write transaction.
func (s *Store) tx(ctx context.Context, fn func(*Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.tryTx(ctx, fn)
		if err == nil || !retryable(err) || attempt == maxTxAttempts {
			return err
		}
		time.Sleep(time.Duration(attempt) * 5 * time.Millisecond)
	}
}

func (s *Store) tryTx(ctx context.Context, fn func(*Tx) error) error {
	sqlTx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(&Tx{tx: sqlTx, d: s.d}); err != nil {
		_ = sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}
