package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/parleychat/parley/internal/store"
)

// PostgresPoolSize bounds a node's connections to PostgreSQL.
const PostgresPoolSize = 16

// OpenPostgres connects to PostgreSQL (a postgres:// URL or DSN) and
// migrates it. Several nodes may share the database: every transaction
// that decides on shared state locks the rows it decides on (FOR UPDATE)
// at READ COMMITTED, and a transaction PostgreSQL aborts to break a
// deadlock is retried whole.
func OpenPostgres(ctx context.Context, dsn string) (*Store, error) {
	pool, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	pool.SetMaxOpenConns(PostgresPoolSize)
	pool.SetMaxIdleConns(PostgresPoolSize)
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
	err = store.Migrate(ctx, pool, sub, "$1")
	_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLock)
	if err != nil {
		_ = pool.Close()
		return nil, fmt.Errorf("migrate postgres: %w", err)
	}
	c := newDB(pool, postgresDialect)
	return &Store{w: c, r: c, d: postgresDialect}, nil
}
