package app_test

import (
	"testing"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
)

// nextPresenceOf returns the next presence frame about userID.
func nextPresenceOf(t *testing.T, c *client.Conn, userID string) client.Frame {
	t.Helper()
	for {
		f, err := c.Next(testCtx(t), "presence")
		if err != nil {
			t.Fatalf("waiting for presence of %s: %v", userID, err)
		}
		if f.UserID == userID {
			return f
		}
	}
}

// TestWritingToSomeoneDoesNotMakeYouTheirContact: anyone who knows a user
// id can open a 1:1 and write; that must not show them a presence the
// user keeps for its contacts. Once the user writes back, it chose them:
// they see it at once, without reconnecting.
func TestWritingToSomeoneDoesNotMakeYouTheirContact(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	bob, mallory := srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "mallory")
	setPrivacy(t, bob, map[string]string{"online_visibility": "contacts", "last_seen_visibility": "contacts"})
	bc := served(t, bob.Dial(ctx))
	bc.Close() // bob has a last seen now
	waitPresence(t, bob, bob.UserID, "offline")
	bc = served(t, bob.Dial(ctx))

	conv, err := mallory.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	mc := served(t, mallory.Dial(ctx))
	if _, err := mc.SendMessage(ctx, text("m1", conv.ConversationID, "hi bob")); err != nil {
		t.Fatal(err)
	}
	if _, err := bc.Next(ctx, "message"); err != nil {
		t.Fatal(err)
	}
	p, err := mallory.API.Presence(ctx, bob.UserID)
	if err != nil || p.Status != "offline" || p.LastSeen != nil {
		t.Fatalf("mallory, who only wrote to bob, sees %+v, %v; want offline without last seen", p, err)
	}
	if err := mc.SubscribePresence(ctx, bob.UserID); err != nil {
		t.Fatal(err)
	}
	if f := nextPresenceOf(t, mc, bob.UserID); f.Status != "offline" || f.LastSeen != nil {
		t.Fatalf("mallory's subscription shows %+v; want offline without last seen", f)
	}

	// bob writes back: he chose mallory, who sees him online at once.
	if _, err := bc.SendMessage(ctx, text("b1", conv.ConversationID, "who is this?")); err != nil {
		t.Fatal(err)
	}
	if f := nextPresenceOf(t, mc, bob.UserID); f.Status != "online" {
		t.Fatalf("after bob's reply mallory got %+v, want online", f)
	}
	if p, err := mallory.API.Presence(ctx, bob.UserID); err != nil || p.Status != "online" {
		t.Fatalf("GET after bob's reply = %+v, %v", p, err)
	}
	bc.Close()
	if f := nextPresenceOf(t, mc, bob.UserID); f.Status != "offline" || f.LastSeen == nil {
		t.Fatalf("bob leaving, as his contact mallory sees it: %+v", f)
	}
}

// TestStartingAChatShowsYouToTheOtherLive: creating a 1:1 chooses the
// other user; both connected, the other sees the creator's presence
// without reconnecting.
func TestStartingAChatShowsYouToTheOtherLive(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	bob, dave := srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "dave")
	setPrivacy(t, bob, map[string]string{"online_visibility": "contacts"})
	served(t, bob.Dial(ctx))
	dc := served(t, dave.Dial(ctx))
	if _, err := bob.API.CreateDirect(ctx, dave.UserID); err != nil {
		t.Fatal(err)
	}
	if f := nextPresenceOf(t, dc, bob.UserID); f.Status != "online" {
		t.Fatalf("dave got %+v, want bob online", f)
	}
}
