package sqlstore_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx", to write the fake row behind the store's back

	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/sqlstore"
)

// futureVersion is a migration no binary of this tree has.
const futureVersion = 9999

// TestSchemaNewerThanBinaryRefusedSQLite: a database a newer binary has
// migrated (here: a row in schema_migrations as a migration records it)
// is refused, naming both versions, and left as it was.
func TestSchemaNewerThanBinaryRefusedSQLite(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var logs bytes.Buffer
	s, err := sqlstore.OpenSQLite(ctx, dir, sqlstore.SQLiteOptions{Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	newest := checkMigrationsLogged(t, logs.String())

	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlstore.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", futureVersion, "9999_from_the_future.sql"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	_, err = sqlstore.Open(ctx, dir)
	checkRefusal(t, err, newest)
}

func TestSchemaNewerThanBinaryRefusedPostgres(t *testing.T) {
	ctx := context.Background()
	dsn := apptest.Postgres(t)
	var logs bytes.Buffer
	s, err := sqlstore.OpenPostgres(ctx, dsn, sqlstore.PostgresOptions{AppName: "parley-test", Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	newest := checkMigrationsLogged(t, logs.String())

	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", futureVersion, "9999_from_the_future.sql"); err != nil {
		t.Fatal(err)
	}
	_, err = sqlstore.OpenPostgres(ctx, dsn, sqlstore.PostgresOptions{AppName: "parley-test"})
	checkRefusal(t, err, newest)
}

// checkMigrationsLogged checks that a fresh database logged one line per
// migration applied, with its name and duration, and returns the newest
// version applied.
func checkMigrationsLogged(t *testing.T, logs string) int {
	t.Helper()
	lines := strings.Count(logs, `"msg":"migration applied"`)
	if lines < 2 || strings.Count(logs, `"duration":`) != lines || !strings.Contains(logs, `"name":"0001_init.sql"`) {
		t.Fatalf("migrations logged:\n%s", logs)
	}
	var newest int
	for l := range strings.Lines(logs) {
		var v int
		if i := strings.Index(l, `"version":`); i >= 0 {
			fmt.Sscanf(l[i+len(`"version":`):], "%d", &v)
			newest = max(newest, v)
		}
	}
	return newest
}

func checkRefusal(t *testing.T, err error, newest int) {
	t.Helper()
	if !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("open a database at schema %d with a binary at %d: %v, want ErrSchemaTooNew", futureVersion, newest, err)
	}
	for _, want := range []string{fmt.Sprintf("schema version %d", futureVersion), fmt.Sprintf("up to %d", newest)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
}
