package sqlstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/internal/profiles"
)

// TestProfileHiddenAcrossABlock: a block, either way, hides the about and
// the avatar that everyone else sees, a contact's view included. The
// blocks are written here as rows of migration 0012, since blocking's own
// calls live elsewhere; the conformance suite covers the rest of profiles.
func TestProfileHiddenAcrossABlock(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for _, id := range []string{"a", "b", "c"} {
		if err := s.CreateUser(ctx, identity.User{ID: id, Username: "user-" + id, DisplayName: id, CreatedAt: time.UnixMilli(1)}, "hash"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.SetContact(ctx, "a", "b", true, time.UnixMilli(2)); err != nil { // a chose b
		t.Fatal(err)
	}
	about, av := "hello", "01JD3YA1B2C3D4E5F6G7H8J9K0"
	if _, err := s.UpdateProfile(ctx, "a", nil, &about, &av); err != nil {
		t.Fatal(err)
	}
	svc := profiles.NewService(s, nil, nil, nil)
	sees := func(viewer string) string {
		t.Helper()
		v, err := svc.Get(ctx, viewer, "a")
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%q %q", v.About, v.AvatarID)
	}
	shown := fmt.Sprintf("%q %q", about, av)
	if g := sees("b"); g != shown {
		t.Fatalf("contact b sees %s; want %s", g, shown)
	}
	for _, block := range [][2]string{{"b", "a"}, {"a", "b"}} { // b blocks a, then a blocks b instead
		if _, err := s.w.ExecContext(ctx, `DELETE FROM blocks`); err != nil {
			t.Fatal(err)
		}
		if _, err := s.w.ExecContext(ctx, `INSERT INTO blocks (user_id, blocked_id, created_at) VALUES (?, ?, 3)`, block[0], block[1]); err != nil {
			t.Fatal(err)
		}
		if g := sees("b"); g != `"" ""` {
			t.Fatalf("%s blocks %s: b sees %s; want nothing", block[0], block[1], g)
		}
		if g := sees("c"); g != shown {
			t.Fatalf("%s blocks %s: stranger c sees %s; want %s", block[0], block[1], g, shown)
		}
		if g := sees("a"); g != shown {
			t.Fatalf("%s blocks %s: a sees its own as %s", block[0], block[1], g)
		}
		for _, who := range []string{"a", "b"} {
			if got, err := s.ProfileBlocks(ctx, who); err != nil || len(got) != 1 {
				t.Fatalf("ProfileBlocks(%s) = %v, %v; want the other one", who, got, err)
			}
		}
	}
}
