package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/store"
)

// testExplicitContacts: added contacts join the default rule's, removed
// ones leave it, a removal holding over writing in the 1:1 again; the
// connect's one round trip (PresenceView) says the same as Contacts.
func testExplicitContacts(t *testing.T, s Store) {
	setup(t, s) // a created the 1:1 ab: a chose b
	mustUser(t, s, "c")
	set := func(user, other string, added bool, at time.Time) {
		t.Helper()
		if _, err := s.SetContact(ctx(t), user, other, added, at); err != nil {
			t.Fatalf("SetContact(%s, %s, %v): %v", user, other, added, err)
		}
	}
	want := func(user, line string) {
		t.Helper()
		got, err := s.Contacts(ctx(t), user)
		if err != nil {
			t.Fatal(err)
		}
		_, view, err := s.PresenceView(ctx(t), user)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(view) != fmt.Sprint(got) {
			t.Fatalf("PresenceView(%s) contacts = %+v, Contacts = %+v", user, view, got)
		}
		if g := fmt.Sprintf("chose %v, chosen by %v", got.Chosen, got.ChosenBy); g != line {
			t.Fatalf("%s %s; want %s", user, g, line)
		}
	}
	list := func(user, line string) {
		t.Helper()
		l, err := s.ContactList(ctx(t), user)
		if err != nil {
			t.Fatal(err)
		}
		var g []string
		for _, c := range l {
			added := "-"
			if !c.AddedAt.IsZero() {
				added = fmt.Sprint(c.AddedAt.Sub(t0).Milliseconds())
			}
			g = append(g, fmt.Sprintf("%s/%s/%s/%s", c.UserID, c.Username, c.DisplayName, added))
		}
		if fmt.Sprint(g) != line {
			t.Fatalf("ContactList(%s) = %v; want %s", user, g, line)
		}
	}

	want("a", "chose [b], chosen by []")
	list("a", "[b/user-b/b/-]") // by the default rule: no added time
	set("a", "b", false, t0)
	want("a", "chose [], chosen by []")
	want("b", "chose [], chosen by []")
	list("a", "[]")
	set("a", "b", false, t0.Add(time.Second)) // idempotent
	mustAppend(t, s, msg("ab", "a", "a1", "still writing"))
	want("a", "chose [], chosen by []") // the removal holds

	set("b", "c", true, t0.Add(2*time.Millisecond))
	set("b", "c", true, t0.Add(time.Hour)) // again: keeps its time
	want("b", "chose [c], chosen by []")
	want("c", "chose [], chosen by [b]")
	list("b", "[c/user-c/c/2]")

	set("a", "b", true, t0.Add(3*time.Millisecond)) // added back
	set("a", "c", true, t0.Add(4*time.Millisecond))
	want("a", "chose [b c], chosen by []")
	want("b", "chose [c], chosen by [a]")
	list("a", "[b/user-b/b/3 c/user-c/c/4]")

	set("b", "c", false, t0.Add(5*time.Millisecond))
	want("c", "chose [], chosen by [a]")
	list("b", "[]")

	if _, err := s.SetContact(ctx(t), "a", "nope", true, t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetContact of an unknown user: %v, want ErrNotFound", err)
	}
	// The same choice again changes nothing, and says so; a new one does.
	for _, tc := range []struct {
		added, changed bool
	}{{false, false}, {true, true}, {true, false}} {
		changed, err := s.SetContact(ctx(t), "b", "c", tc.added, t0.Add(6*time.Millisecond))
		if err != nil || changed != tc.changed {
			t.Fatalf("SetContact(b, c, %v) = %v, %v; want changed %v", tc.added, changed, err, tc.changed)
		}
	}
}
