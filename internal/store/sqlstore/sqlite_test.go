package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/identity"

	"github.com/parleychat/parley/internal/store/sqlstore"
	"github.com/parleychat/parley/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		s, err := sqlstore.Open(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestReopenKeepsData(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	u := identity.User{ID: "u1", Username: "kept", DisplayName: "Kept", CreatedAt: time.UnixMilli(1)}
	if err := s.CreateUser(ctx, u, "hash"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Reopening runs the migrations runner again: it must skip what is done.
	s, err = sqlstore.Open(ctx, dir)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	got, err := s.UserByID(ctx, "u1")
	if err != nil || got.Username != "kept" {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
}
