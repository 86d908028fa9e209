package app_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/config"
)

// TestAddingAContactShowsYouLive: bob keeps his presence for his contacts;
// dave, who never chatted with him, sees nothing until bob adds him, and
// then at once, on the connection he holds.
func TestAddingAContactShowsYouLive(t *testing.T) {
	bothEngines(t, func(t *testing.T, cfg config.Config) {
		ctx := testCtx(t)
		srv := apptest.Start(t, cfg, nil)
		bob, dave := srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "dave")
		setPrivacy(t, bob, map[string]string{"online_visibility": "contacts", "last_seen_visibility": "contacts"})
		bc := served(t, bob.Dial(ctx))
		dc := served(t, dave.Dial(ctx))
		if err := dc.SubscribePresence(ctx, bob.UserID); err != nil {
			t.Fatal(err)
		}
		if f := nextPresenceOf(t, dc, bob.UserID); f.Status != "offline" || f.LastSeen != nil {
			t.Fatalf("dave, no contact of bob's, sees %s; want offline without last seen", f.Raw)
		}

		if err := bob.API.AddContact(ctx, dave.UserID); err != nil {
			t.Fatal(err)
		}
		if f := nextPresenceOf(t, dc, bob.UserID); f.Status != "online" {
			t.Fatalf("after bob added dave, dave got %s; want bob online", f.Raw)
		}
		if p, err := dave.API.Presence(ctx, bob.UserID); err != nil || p.Status != "online" {
			t.Fatalf("GET after the add = %+v, %v; want online", p, err)
		}
		bc.Close()
		if f := nextPresenceOf(t, dc, bob.UserID); f.Status != "offline" || f.LastSeen == nil {
			t.Fatalf("bob leaving, as his contact dave sees it: %s; want offline with last seen", f.Raw)
		}
		// Adding is one way: bob is no contact of dave's.
		if l, err := dave.API.Contacts(ctx); err != nil || len(l) != 0 {
			t.Fatalf("dave's contacts = %+v, %v; want none", l, err)
		}
	})
}

// TestRemovingAChatContactHidesYouLive: alice started a chat with bob, so
// bob is her contact; she removes him and he stops seeing what she keeps
// for her contacts, at once, and writing in the chat again does not undo
// it.
func TestRemovingAChatContactHidesYouLive(t *testing.T) {
	bothEngines(t, func(t *testing.T, cfg config.Config) {
		ctx := testCtx(t)
		srv := apptest.Start(t, cfg, nil)
		alice, bob, carol := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "carol")
		conv, err := alice.API.CreateDirect(ctx, bob.UserID) // alice chose bob
		if err != nil {
			t.Fatal(err)
		}
		if err := alice.API.AddContact(ctx, carol.UserID); err != nil {
			t.Fatal(err)
		}
		setPrivacy(t, alice, map[string]string{"online_visibility": "contacts", "last_seen_visibility": "contacts"})
		ac := served(t, alice.Dial(ctx))
		bc := bob.Dial(ctx) // not served: its snapshot comes first
		if f := nextPresenceOf(t, bc, alice.UserID); f.Status != "online" {
			t.Fatalf("bob, alice's contact, got %s; want online", f.Raw)
		}
		cc := carol.Dial(ctx)
		if f := nextPresenceOf(t, cc, alice.UserID); f.Status != "online" {
			t.Fatalf("carol, added by alice, got %s; want online", f.Raw)
		}

		if err := alice.API.RemoveContact(ctx, bob.UserID); err != nil {
			t.Fatal(err)
		}
		// The last word about alice bob gets: as he may see her now.
		if f := nextPresenceOf(t, bc, alice.UserID); f.Status != "offline" || f.LastSeen != nil {
			t.Fatalf("after the removal bob got %s; want offline without last seen", f.Raw)
		}
		if p, err := bob.API.Presence(ctx, alice.UserID); err != nil || p.Status != "offline" || p.LastSeen != nil {
			t.Fatalf("GET after the removal = %+v, %v; want offline without last seen", p, err)
		}
		if err := alice.API.RemoveContact(ctx, bob.UserID); err != nil { // idempotent
			t.Fatal(err)
		}

		// She writes in the chat again: the removal holds.
		if _, err := ac.SendMessage(ctx, text("a1", conv.ConversationID, "still here")); err != nil {
			t.Fatal(err)
		}
		if _, err := bc.Next(ctx, "message"); err != nil {
			t.Fatal(err)
		}
		ac.Close()
		// carol, still her contact, hears alice leave; bob hears nothing,
		// and asking shows him no last seen.
		if f := nextPresenceOf(t, cc, alice.UserID); f.Status != "offline" || f.LastSeen == nil {
			t.Fatalf("carol got %s; want offline with last seen", f.Raw)
		}
		quiet(t, bc, "presence")
		if p, err := bob.API.Presence(ctx, alice.UserID); err != nil || p.LastSeen != nil {
			t.Fatalf("bob's GET after alice left = %+v, %v; want no last seen", p, err)
		}
		if l, err := alice.API.Contacts(ctx); err != nil || len(l) != 1 || l[0].UserID != carol.UserID {
			t.Fatalf("alice's contacts = %+v, %v; want carol only", l, err)
		}

		// Added back: bob sees her last seen again.
		if err := alice.API.AddContact(ctx, bob.UserID); err != nil {
			t.Fatal(err)
		}
		if f := nextPresenceOf(t, bc, alice.UserID); f.Status != "offline" || f.LastSeen == nil {
			t.Fatalf("after alice added bob back he got %s; want offline with last seen", f.Raw)
		}
	})
}

// TestContactListOrderAndRefusals: the list is the effective set, by
// display name, with the time of an explicit add; adds and removals are
// idempotent; oneself is invalid, an unknown user not found.
func TestContactListOrderAndRefusals(t *testing.T) {
	bothEngines(t, func(t *testing.T, cfg config.Config) {
		ctx := testCtx(t)
		clk := clock.NewFake(time.UnixMilli(1_790_000_000_000))
		srv := apptest.Start(t, cfg, clk)
		alice := srv.NewUser(ctx, "alice")
		zed, carol, bob := srv.NewUser(ctx, "zed"), srv.NewUser(ctx, "carol"), srv.NewUser(ctx, "bob")
		if _, err := alice.API.CreateDirect(ctx, zed.UserID); err != nil { // zed by the default rule
			t.Fatal(err)
		}
		if _, err := bob.API.CreateDirect(ctx, alice.UserID); err != nil { // bob chose alice, not the reverse
			t.Fatal(err)
		}
		if err := alice.API.AddContact(ctx, carol.UserID); err != nil {
			t.Fatal(err)
		}
		added := clock.Millis(clk.Now())
		clk.Advance(time.Minute)
		if err := alice.API.AddContact(ctx, carol.UserID); err != nil { // again: keeps its time
			t.Fatal(err)
		}
		if err := alice.API.AddContact(ctx, bob.UserID); err != nil {
			t.Fatal(err)
		}
		later := clock.Millis(clk.Now())
		list := func(want string) {
			t.Helper()
			l, err := alice.API.Contacts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			for _, c := range l {
				at := "-"
				if c.AddedAt != nil {
					at = fmt.Sprint(*c.AddedAt)
				}
				got += fmt.Sprintf("%s/%s/%s ", c.DisplayName, c.Username[:len(c.DisplayName)], at)
			}
			if got != want {
				t.Fatalf("alice's contacts = %q, want %q", got, want)
			}
		}
		list(fmt.Sprintf("Bob/bob/%d Carol/carol/%d Zed/zed/- ", later, added))

		if err := alice.API.RemoveContact(ctx, zed.UserID); err != nil {
			t.Fatal(err)
		}
		if err := alice.API.RemoveContact(ctx, zed.UserID); err != nil {
			t.Fatal(err)
		}
		list(fmt.Sprintf("Bob/bob/%d Carol/carol/%d ", later, added))

		wantStatus(t, alice.API.AddContact(ctx, alice.UserID), http.StatusUnprocessableEntity, "invalid", "add oneself")
		wantStatus(t, alice.API.RemoveContact(ctx, alice.UserID), http.StatusUnprocessableEntity, "invalid", "remove oneself")
		wantStatus(t, alice.API.AddContact(ctx, "01JD3Y2B4D6F8H0K2M4P6R8T0Z"), http.StatusNotFound, "not_found", "add an unknown user")
		wantStatus(t, alice.API.RemoveContact(ctx, "nope"), http.StatusNotFound, "not_found", "remove an unknown user")
	})
}

// TestClusterContactAddReachesEveryNode: bob adds dave through node A;
// dave, connected to node B, sees bob's presence at once, and B answers
// from the contacts it read again; a removal through A hides it again.
func TestClusterContactAddReachesEveryNode(t *testing.T) {
	ctx := testCtx(t)
	na, nb := twoNodesWith(t, func(*config.Config) {})
	bob, dave := na.NewUser(ctx, "bob"), na.NewUser(ctx, "dave")
	setPrivacy(t, bob, map[string]string{"online_visibility": "contacts", "last_seen_visibility": "contacts"})
	served(t, bob.Dial(ctx)) // on A
	dc := served(t, apptest.Dial(ctx, t, on(nb, dave)))
	if err := dc.SubscribePresence(ctx, bob.UserID); err != nil {
		t.Fatal(err)
	}
	if f := nextPresenceOf(t, dc, bob.UserID); f.Status != "offline" {
		t.Fatalf("dave on B sees %s before the add; want offline", f.Raw)
	}
	if err := bob.API.AddContact(ctx, dave.UserID); err != nil { // through A
		t.Fatal(err)
	}
	if f := nextPresenceOf(t, dc, bob.UserID); f.Status != "online" {
		t.Fatalf("dave on B after bob added him on A: %s; want online", f.Raw)
	}
	if p, err := on(nb, dave).Presence(ctx, bob.UserID); err != nil || p.Status != "online" {
		t.Fatalf("GET on B after the add = %+v, %v; want online", p, err)
	}
	if err := bob.API.RemoveContact(ctx, dave.UserID); err != nil {
		t.Fatal(err)
	}
	if f := nextPresenceOf(t, dc, bob.UserID); f.Status != "offline" {
		t.Fatalf("dave on B after bob removed him on A: %s; want offline", f.Raw)
	}
	if p, err := on(nb, dave).Presence(ctx, bob.UserID); err != nil || p.Status != "offline" {
		t.Fatalf("GET on B after the removal = %+v, %v; want offline", p, err)
	}
}
