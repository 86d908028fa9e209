package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/internal/store"
)

// testDeviceManagement: a user's sessions listed, named and touched; the
// others ended; the password replaced together with ending them.
func testDeviceManagement(t *testing.T, s Store) {
	mustUser(t, s, "u")
	mustUser(t, s, "v")
	for i, id := range []string{"u1", "u2", "u3"} {
		at := t0.Add(time.Duration(i) * time.Second)
		d := identity.Device{ID: id, UserID: "u", CreatedAt: at, ExpiresAt: at.Add(time.Hour), LastUsedAt: at, Name: "phone " + id}
		if _, err := s.CreateDevice(ctx(t), d, []byte("tok-"+id), 5); err != nil {
			t.Fatal(err)
		}
	}
	mustDevice(t, s, "v", "v1")

	ids := func(ds []identity.Device) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.ID)
		}
		return out
	}
	list, err := s.Devices(ctx(t), "u")
	if err != nil || !slices.Equal(ids(list), []string{"u3", "u2", "u1"}) {
		t.Fatalf("Devices = %v, %v; want u3 u2 u1 (most recently used first)", ids(list), err)
	}
	if d := list[2]; d.Name != "phone u1" || !d.CreatedAt.Equal(t0) || !d.LastUsedAt.Equal(t0) || d.UserID != "u" {
		t.Fatalf("Devices[2] = %+v", d)
	}
	if d, err := s.DeviceByToken(ctx(t), []byte("tok-u2")); err != nil || d.Name != "phone u2" {
		t.Fatalf("DeviceByToken = %+v, %v; want its name", d, err)
	}

	// A touch moves a session to the front; an older time changes nothing.
	if err := s.TouchDevice(ctx(t), "u1", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchDevice(ctx(t), "u1", t0); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchDevice(ctx(t), "gone", t0); err != nil {
		t.Fatalf("TouchDevice of a session that is gone: %v", err)
	}
	list, err = s.Devices(ctx(t), "u")
	if err != nil || !slices.Equal(ids(list), []string{"u1", "u3", "u2"}) || !list[0].LastUsedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("Devices after a touch = %v, %v", ids(list), err)
	}

	ended, err := s.DeleteOtherDevices(ctx(t), "u", "u3")
	slices.Sort(ended)
	if err != nil || !slices.Equal(ended, []string{"u1", "u2"}) {
		t.Fatalf("DeleteOtherDevices = %v, %v; want u1 u2", ended, err)
	}
	if list, _ = s.Devices(ctx(t), "u"); !slices.Equal(ids(list), []string{"u3"}) {
		t.Fatalf("Devices after ending the others = %v", ids(list))
	}
	if list, _ = s.Devices(ctx(t), "v"); !slices.Equal(ids(list), []string{"v1"}) {
		t.Fatalf("another user's sessions = %v; want v1 untouched", ids(list))
	}

	// The password and the sessions change together.
	d4 := identity.Device{ID: "u4", UserID: "u", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), LastUsedAt: t0}
	if _, err := s.CreateDevice(ctx(t), d4, []byte("tok-u4"), 5); err != nil {
		t.Fatal(err)
	}
	ended, err = s.SetPassword(ctx(t), "u", "new-hash", "u4")
	if err != nil || !slices.Equal(ended, []string{"u3"}) {
		t.Fatalf("SetPassword = %v, %v; want u3 ended", ended, err)
	}
	if h, err := s.PasswordHash(ctx(t), "u"); err != nil || h != "new-hash" {
		t.Fatalf("PasswordHash = %q, %v", h, err)
	}
	if _, h, err := s.UserByUsername(ctx(t), "user-u"); err != nil || h != "new-hash" {
		t.Fatalf("UserByUsername hash = %q, %v", h, err)
	}
	if list, _ = s.Devices(ctx(t), "u"); !slices.Equal(ids(list), []string{"u4"}) {
		t.Fatalf("Devices after a password change = %v; want u4", ids(list))
	}
	if _, err := s.PasswordHash(ctx(t), "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("PasswordHash of nobody: %v", err)
	}
	if _, err := s.SetPassword(ctx(t), "nobody", "h", ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetPassword of nobody: %v", err)
	}
}
