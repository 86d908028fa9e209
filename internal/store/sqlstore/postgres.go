package sqlstore

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/parleychat/parley/internal/store"
)

// PostgresOptions tune a node's connections to PostgreSQL.
type PostgresOptions struct {
	// PoolSize bounds the node's connections (default 16).
	PoolSize int
	// AppName is the application_name the server shows for them
	// (pg_stat_activity), unless the DSN names one.
	AppName string
	// Log hears of each migration applied (default: nowhere).
	Log *slog.Logger
}

// OpenPostgres connects to PostgreSQL (a postgres:// URL or DSN) and
// migrates it. Several nodes may share the database: every transaction
// that decides on shared state locks the rows it decides on (FOR UPDATE)
// at READ COMMITTED, and a transaction PostgreSQL aborts to break a
// deadlock is retried whole.
//
// Every statement is planned for its arguments (plan_cache_mode
// force_custom_plan): a plan cached while a table was empty — a fresh
// database, nothing analyzed yet — would otherwise scan the whole table
// long after it has grown. The commit cycle's statements take whole
// arrays (see rowSet), so a cycle costs a fixed number of round trips and
// plans whatever its size.
func OpenPostgres(ctx context.Context, dsn string, opts PostgresOptions) (*Store, error) {
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if _, ok := cc.RuntimeParams["application_name"]; !ok && opts.AppName != "" {
		cc.RuntimeParams["application_name"] = opts.AppName
	}
	if _, ok := cc.RuntimeParams["plan_cache_mode"]; !ok {
		cc.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	}
	if opts.PoolSize < 1 {
		opts.PoolSize = 16
	}
	pool := stdlib.OpenDB(*cc)
	pool.SetMaxOpenConns(opts.PoolSize)
	pool.SetMaxIdleConns(opts.PoolSize)
	if err := pool.PingContext(ctx); err != nil {
		_ = pool.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	sub, err := fs.Sub(migrationFiles, "migrations_pg")
	if err != nil {
		return nil, err
	}
	// Nodes starting together must not migrate at once.
	conn, err := pool.Conn(ctx)
	if err != nil {
		_ = pool.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close()
	const migrationLock = 7_262_731 // any constant shared by every node
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
		_ = pool.Close()
		return nil, fmt.Errorf("lock migrations: %w", err)
	}
	err = store.Migrate(ctx, pool, sub, "$1", opts.Log)
	_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLock)
	if err != nil {
		_ = pool.Close()
		return nil, fmt.Errorf("migrate postgres: %w", err)
	}
	n := new(atomic.Int64)
	c := newDB(pool, postgresDialect, n)
	return &Store{w: c, r: c, d: postgresDialect, statements: n}, nil
}
