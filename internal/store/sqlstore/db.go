package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	// prepare keeps a prepared statement per query text. Parsing is ~40%
	// of a group commit's CPU in SQLite without it; pgx keeps its own
	// statement cache on PostgreSQL.
	prepare bool

	cache sync.Map // query text -> rewritten text
}

var (
	sqliteDialect   = &dialect{name: "sqlite", greatest: "max(", forUpdate: "", prepare: true}
	postgresDialect = &dialect{name: "postgres", numbered: true, greatest: "GREATEST(", forUpdate: " FOR UPDATE"}
)

// forUpdateOf locks the rows of one table of a join (alias), or is "".
func (d *dialect) forUpdateOf(alias string) string {
	if d.forUpdate == "" {
		return ""
	}
	return d.forUpdate + " OF " + alias
}

// prefixed qualifies each column of a comma-separated list.
func prefixed(p, cols string) string {
	parts := strings.Split(cols, ", ")
	for i, c := range parts {
		parts[i] = p + c
	}
	return strings.Join(parts, ", ")
}

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
	if cacheable(q) {
		d.cache.Store(q, out)
	}
	return out
}

// cacheable tells fixed query texts from those built with a varying number
// of placeholders (IN lists), which would grow a cache without bound. A
// rowSet's VALUES list varies only by size class: a few texts each.
func cacheable(q string) bool {
	return strings.Count(q, "?") <= 16 || strings.Contains(q, "FROM (VALUES ")
}

// db is a *sql.DB that speaks the dialect.
type db struct {
	*sql.DB
	d     *dialect
	stmts *sync.Map // rewritten query text -> *sql.Stmt, when d.prepare
	// statements counts the statements run outside transactions, each a
	// round trip to the engine (shared by the store's pools).
	statements *atomic.Int64
}

func newDB(pool *sql.DB, d *dialect, statements *atomic.Int64) db {
	return db{DB: pool, d: d, stmts: &sync.Map{}, statements: statements}
}

// stmt returns the prepared statement of q, or nil if q is not worth
// keeping (or does not prepare: the caller then runs it as text, and gets
// its error there).
func (c db) stmt(ctx context.Context, q string) *sql.Stmt {
	if !c.d.prepare || !cacheable(q) {
		return nil
	}
	if st, ok := c.stmts.Load(q); ok {
		return st.(*sql.Stmt)
	}
	st, err := c.DB.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	if prev, loaded := c.stmts.LoadOrStore(q, st); loaded {
		_ = st.Close()
		return prev.(*sql.Stmt)
	}
	return st
}

// prepared returns q's statement only if it is already prepared: inside a
// transaction, preparing would need a second connection, and SQLite's
// writer pool has one.
func (c db) prepared(q string) *sql.Stmt {
	if !c.d.prepare {
		return nil
	}
	if st, ok := c.stmts.Load(q); ok {
		return st.(*sql.Stmt)
	}
	return nil
}

func (c db) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	c.statements.Add(1)
	q = c.d.rewrite(q)
	if st := c.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return c.DB.ExecContext(ctx, q, args...)
}

func (c db) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	c.statements.Add(1)
	q = c.d.rewrite(q)
	if st := c.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.DB.QueryContext(ctx, q, args...)
}

func (c db) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	c.statements.Add(1)
	q = c.d.rewrite(q)
	if st := c.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.DB.QueryRowContext(ctx, q, args...)
}

// Tx is a transaction that speaks the dialect.
type Tx struct {
	tx *sql.Tx
	w  db
	d  *dialect
	// unprepared collects the queries run as text for want of a prepared
	// statement; they are prepared once the transaction has ended.
	unprepared []string
}

// on returns the transaction's use of q's prepared statement, if any.
func (t *Tx) on(ctx context.Context, q string) *sql.Stmt {
	if st := t.w.prepared(q); st != nil {
		return t.tx.StmtContext(ctx, st)
	}
	if t.d.prepare && cacheable(q) {
		t.unprepared = append(t.unprepared, q)
	}
	return nil
}

// ExecContext runs a statement in the transaction.
func (t *Tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	q = t.d.rewrite(q)
	if st := t.on(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, q, args...)
}

// QueryContext runs a query in the transaction.
func (t *Tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	q = t.d.rewrite(q)
	if st := t.on(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, q, args...)
}

// QueryRowContext runs a one-row query in the transaction.
func (t *Tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	q = t.d.rewrite(q)
	if st := t.on(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, q, args...)
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
	tx := &Tx{tx: sqlTx, w: s.w, d: s.d}
	defer func() {
		for _, q := range tx.unprepared {
			s.w.stmt(ctx, q)
		}
	}()
	if err := fn(tx); err != nil {
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
