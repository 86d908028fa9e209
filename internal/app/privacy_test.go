package app_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
)

func setPrivacy(t *testing.T, u *apptest.User, body map[string]string) {
	t.Helper()
	if err := u.API.Do(testCtx(t), http.MethodPatch, "/api/v1/users/me/settings", body, nil); err != nil {
		t.Fatalf("settings %v: %v", body, err)
	}
}

func TestContactsHearPresenceWithoutSubscribing(t *testing.T) {
	ctx := testCtx(t)
	_, alice, bob, _ := pair(t)
	ac := alice.Dial(ctx)
	bc := bob.Dial(ctx)
	if f, err := ac.Next(ctx, "presence"); err != nil || f.UserID != bob.UserID || f.Status != "online" {
		t.Fatalf("contact online = %+v, %v", f, err)
	}
	// bob, connecting second, was told at once that alice is online.
	if f, err := bc.Next(ctx, "presence"); err != nil || f.UserID != alice.UserID || f.Status != "online" {
		t.Fatalf("snapshot on connect = %+v, %v", f, err)
	}
	bc.Close()
	if f, err := ac.Next(ctx, "presence"); err != nil || f.Status != "offline" || f.LastSeen == nil {
		t.Fatalf("contact offline = %+v, %v", f, err)
	}
}

func TestFlappingIsCoalesced(t *testing.T) {
	ctx := testCtx(t)
	cfg := apptest.Config(t)
	cfg.PresenceGrace = 400 * time.Millisecond
	srv := apptest.Start(t, cfg, nil)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
	if _, err := alice.API.CreateDirect(ctx, bob.UserID); err != nil {
		t.Fatal(err)
	}
	ac := alice.Dial(ctx)
	bc := bob.Dial(ctx)
	if f, err := ac.Next(ctx, "presence"); err != nil || f.Status != "online" {
		t.Fatal(f, err)
	}
	// A blip: bob's connection drops and comes back within the grace.
	bc.Close()
	bc = bob.Dial(ctx)
	time.Sleep(2 * cfg.PresenceGrace)
	if err := ac.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	if f, err := ac.Next(ctx, "presence", "heartbeat_ack"); err != nil || f.Type != "heartbeat_ack" {
		t.Fatalf("alice saw the blip: %+v, %v", f, err)
	}
	// GET presence never lies, grace or not.
	bc.Close()
	waitPresence(t, alice, bob.UserID, "offline")
	// A real departure is told after the grace.
	if f, err := ac.Next(ctx, "presence"); err != nil || f.Status != "offline" || f.LastSeen == nil {
		t.Fatalf("departure = %+v, %v", f, err)
	}
}

func TestPrivacySettings(t *testing.T) {
	ctx := testCtx(t)
	srv, alice, bob, conv := pair(t)
	carol := srv.NewUser(ctx, "carol")

	var got map[string]string
	if err := bob.API.Do(ctx, http.MethodGet, "/api/v1/users/me/settings", nil, &got); err != nil ||
		got["last_seen_visibility"] != "everyone" || got["online_visibility"] != "everyone" {
		t.Fatalf("default settings = %v, %v", got, err)
	}
	for _, bad := range []map[string]string{{"last_seen_visibility": "friends"}, {"online_visibility": "EVERYONE"}} {
		if err := bob.API.Do(ctx, http.MethodPatch, "/api/v1/users/me/settings", bad, nil); client.ErrorCode(err) != "invalid" {
			t.Fatalf("settings %v: %v, want invalid", bad, err)
		}
	}
	// bob goes online, writes to alice (who created their chat: now each
	// chose the other, they are contacts), then offline, so he has a last
	// seen.
	bc := bob.Dial(ctx)
	if _, err := bc.SendMessage(ctx, text("hi-alice", conv.ConversationID, "hi")); err != nil {
		t.Fatal(err)
	}
	bc.Close()
	waitPresence(t, alice, bob.UserID, "offline")

	seesLastSeen := func(viewer *apptest.User) bool {
		t.Helper()
		p, err := viewer.API.Presence(ctx, bob.UserID)
		if err != nil {
			t.Fatal(err)
		}
		return p.LastSeen != nil
	}
	if !seesLastSeen(alice) || !seesLastSeen(carol) {
		t.Fatal("everyone should see bob's last seen")
	}
	setPrivacy(t, bob, map[string]string{"last_seen_visibility": "contacts"})
	if !seesLastSeen(alice) || seesLastSeen(carol) {
		t.Fatal("contacts: alice (a contact) sees it, carol does not")
	}
	setPrivacy(t, bob, map[string]string{"last_seen_visibility": "nobody"})
	if seesLastSeen(alice) || seesLastSeen(carol) || !seesLastSeen(bob) {
		t.Fatal("nobody: only bob himself sees it")
	}
	// Reciprocity: alice hides hers, so she cannot see bob's either.
	setPrivacy(t, bob, map[string]string{"last_seen_visibility": "everyone"})
	setPrivacy(t, alice, map[string]string{"last_seen_visibility": "nobody"})
	if seesLastSeen(alice) || !seesLastSeen(carol) {
		t.Fatal("reciprocity: alice hides hers and loses bob's; carol still sees it")
	}
	setPrivacy(t, alice, map[string]string{"last_seen_visibility": "everyone"})

	// Online hidden: GET says offline, and no frame is sent at all.
	setPrivacy(t, bob, map[string]string{"online_visibility": "nobody"})
	ac := alice.Dial(ctx)
	cc := carol.Dial(ctx)
	if err := cc.SubscribePresence(ctx, bob.UserID); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.Next(ctx, "presence"); err != nil { // the snapshot: offline
		t.Fatal(err)
	}
	bc = bob.Dial(ctx)
	waitPresence(t, bob, bob.UserID, "online")
	if p, _ := alice.API.Presence(ctx, bob.UserID); p.Status != "offline" {
		t.Fatalf("hidden online shown to alice: %+v", p)
	}
	if p, _ := bob.API.Presence(ctx, bob.UserID); p.Status != "online" {
		t.Fatalf("bob does not see himself online: %+v", p)
	}
	bc.Close()
	waitPresence(t, bob, bob.UserID, "offline")
	for name, c := range map[string]*client.Conn{"alice": ac, "carol": cc} {
		if err := c.Heartbeat(ctx); err != nil {
			t.Fatal(err)
		}
		if f, err := c.Next(ctx, "presence", "heartbeat_ack"); err != nil || f.Type != "heartbeat_ack" {
			t.Fatalf("%s got a presence frame about hidden bob: %+v", name, f)
		}
	}
	// Online visible to contacts only: carol subscribed, alice is a contact.
	setPrivacy(t, bob, map[string]string{"online_visibility": "contacts"})
	bc = bob.Dial(ctx)
	if f, err := ac.Next(ctx, "presence"); err != nil || f.UserID != bob.UserID || f.Status != "online" {
		t.Fatalf("contact alice = %+v, %v", f, err)
	}
	if err := cc.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	if f, err := cc.Next(ctx, "presence", "heartbeat_ack"); err != nil || f.Type != "heartbeat_ack" {
		t.Fatalf("non-contact carol got %+v", f)
	}
	bc.Close()
}

func TestComposingExpires(t *testing.T) {
	ctx := testCtx(t)
	cfg := apptest.Config(t)
	cfg.TypingTimeout = 300 * time.Millisecond
	srv := apptest.Start(t, cfg, nil)
	alice, bob, carol := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "carol")
	g, err := alice.API.CreateGroup(ctx, "g", []string{bob.UserID, carol.UserID})
	if err != nil {
		t.Fatal(err)
	}
	ac, bc := alice.Dial(ctx), served(t, bob.Dial(ctx)) // carol is offline
	start := time.Now()
	if err := ac.Typing(ctx, g.ConversationID, "composing"); err != nil {
		t.Fatal(err)
	}
	if f, err := bc.Next(ctx, "typing"); err != nil || f.State != "composing" || f.UserID != alice.UserID {
		t.Fatalf("composing = %+v, %v", f, err)
	}
	// alice's client vanishes mid-sentence: the indicator ends by itself.
	f, err := bc.Next(ctx, "typing")
	if err != nil || f.State != "paused" || time.Since(start) < cfg.TypingTimeout {
		t.Fatalf("after the timeout = %+v, %v (%s)", f, err, time.Since(start))
	}
	// carol, offline meanwhile, is never handed the stored composing
	// state: typing is not queued. (Connecting while the paused relay is
	// under way, she may get that live frame.)
	cc := carol.Dial(ctx)
	if err := cc.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := cc.Next(ctx, "typing", "heartbeat_ack")
		if err != nil {
			t.Fatal(err)
		}
		if f.Type == "heartbeat_ack" {
			break
		}
		if f.State != "paused" {
			t.Fatalf("offline member got %+v", f)
		}
	}
}
