package sqlstore_test

import (
	"context"
	"testing"

	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/store/sqlstore"
	"github.com/parleychat/parley/internal/store/storetest"
)

// TestConformancePostgres runs the conformance suite on PostgreSQL, each
// test in a database of its own (skipped without a server, except under CI).
func TestConformancePostgres(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		s, err := sqlstore.OpenPostgres(context.Background(), apptest.Postgres(t), sqlstore.PostgresOptions{AppName: "parley-test"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
