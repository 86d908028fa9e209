package storetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/parleychat/parley/internal/presence"
	"github.com/parleychat/parley/internal/store"
)

// testProfiles: a new user's profile is empty and visible to everyone;
// each field changes alone, the avatar swap answers the one it replaced,
// the visibilities save one at a time; a group's avatar likewise; unknown
// ids are store.ErrNotFound.
func testProfiles(t *testing.T, s Store) {
	setup(t, s)
	mustGroup(t, s, "g", 10, "a", "b")
	str := func(v string) *string { return &v }
	show := func(id string) string {
		t.Helper()
		p, err := s.Profile(ctx(t), id)
		if err != nil {
			t.Fatalf("Profile(%s): %v", id, err)
		}
		return fmt.Sprintf("%s %s %q %q %q %s/%s", p.UserID, p.Username, p.DisplayName, p.About, p.AvatarID, p.Settings.Avatar, p.Settings.About)
	}
	want := func(id, line string) {
		t.Helper()
		if g := show(id); g != line {
			t.Fatalf("profile = %s; want %s", g, line)
		}
	}
	want("a", `a user-a "a" "" "" everyone/everyone`)

	old, err := s.UpdateProfile(ctx(t), "a", nil, str("hello, world"), nil)
	if err != nil || old != "" {
		t.Fatalf("UpdateProfile(about) = %q, %v", old, err)
	}
	if old, err = s.UpdateProfile(ctx(t), "a", str("Alice"), nil, str("av1")); err != nil || old != "" {
		t.Fatalf("UpdateProfile(name, avatar) = %q, %v", old, err)
	}
	want("a", `a user-a "Alice" "hello, world" "av1" everyone/everyone`)
	if old, err = s.UpdateProfile(ctx(t), "a", nil, nil, str("av2")); err != nil || old != "av1" {
		t.Fatalf("replacing the avatar = %q, %v; want av1 replaced", old, err)
	}
	if old, err = s.UpdateProfile(ctx(t), "a", nil, nil, nil); err != nil || old != "av2" {
		t.Fatalf("an empty change = %q, %v; want the current avatar av2", old, err)
	}
	if old, err = s.UpdateProfile(ctx(t), "a", nil, nil, str("")); err != nil || old != "av2" {
		t.Fatalf("removing the avatar = %q, %v; want av2 replaced", old, err)
	}
	want("a", `a user-a "Alice" "hello, world" "" everyone/everyone`)
	want("b", `b user-b "b" "" "" everyone/everyone`) // untouched

	if err := s.SetProfileSettings(ctx(t), "a", presence.Contacts, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.SetProfileSettings(ctx(t), "a", "", presence.Nobody); err != nil {
		t.Fatal(err)
	}
	want("a", `a user-a "Alice" "hello, world" "" contacts/nobody`)

	if _, err := s.Profile(ctx(t), "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Profile(unknown) = %v; want ErrNotFound", err)
	}
	if _, err := s.UpdateProfile(ctx(t), "nobody", str("x"), nil, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateProfile(unknown) = %v; want ErrNotFound", err)
	}
	if err := s.SetProfileSettings(ctx(t), "nobody", presence.Nobody, ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetProfileSettings(unknown) = %v; want ErrNotFound", err)
	}

	if old, err := s.SetGroupAvatar(ctx(t), "g", "gav1"); err != nil || old != "" {
		t.Fatalf("SetGroupAvatar = %q, %v", old, err)
	}
	if old, err := s.SetGroupAvatar(ctx(t), "g", "gav2"); err != nil || old != "gav1" {
		t.Fatalf("replacing the group avatar = %q, %v; want gav1", old, err)
	}
	if _, err := s.SetGroupAvatar(ctx(t), "nope", "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetGroupAvatar(unknown) = %v; want ErrNotFound", err)
	}
	got, err := s.GroupAvatars(ctx(t), []string{"g", "ab", "nope"})
	if err != nil || fmt.Sprint(got) != "map[g:gav2]" {
		t.Fatalf("GroupAvatars = %v, %v; want only g's", got, err)
	}
	if old, err := s.SetGroupAvatar(ctx(t), "g", ""); err != nil || old != "gav2" {
		t.Fatalf("removing the group avatar = %q, %v", old, err)
	}
	if got, err := s.GroupAvatars(ctx(t), []string{"g"}); err != nil || len(got) != 0 {
		t.Fatalf("GroupAvatars after the removal = %v, %v; want none", got, err)
	}
	if b, err := s.ProfileBlocks(ctx(t), "a"); err != nil || len(b) != 0 {
		t.Fatalf("ProfileBlocks of a user in no block = %v, %v", b, err)
	}
}
