package app_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/config"
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
	clk := clock.NewFake(time.Now())
	cfg := apptest.Config(t)
	cfg.PresenceGrace = 400 * time.Millisecond
	srv := apptest.Start(t, cfg, clk)
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
	waitGrace(t, clk, cfg) // the server saw him go
	bc = served(t, bob.Dial(ctx))
	// The grace runs out; the timers that fall due fire within Advance,
	// so anything they told alice is queued before her heartbeat's ack.
	clk.Advance(cfg.PresenceGrace)
	quiet(t, ac, "presence") // alice did not see the blip
	// GET presence never lies, grace or not.
	bc.Close()
	waitPresence(t, alice, bob.UserID, "offline")
	// A real departure is told after the grace, and not before.
	waitGrace(t, clk, cfg)
	clk.Advance(cfg.PresenceGrace - time.Millisecond)
	quiet(t, ac, "presence")
	clk.Advance(time.Millisecond)
	if f, err := ac.Next(ctx, "presence"); err != nil || f.Status != "offline" || f.LastSeen == nil {
		t.Fatalf("departure = %+v, %v", f, err)
	}
}

// waitGrace waits until a user's offline announcement waits out the
// presence grace on clk: the server has handled the close.
func waitGrace(t *testing.T, clk *clock.Fake, cfg config.Config) {
	t.Helper()
	if err := clk.WaitForTimers(testCtx(t), cfg.PresenceGrace, 1); err != nil {
		t.Fatalf("no presence grace timer armed: %v", err)
	}
}

func TestPrivacySettings(t *testing.T) {
	ctx := testCtx(t)
	// A grace on a fake clock: the test fires each offline announcement
	// itself, so it knows when a frame that must not come would be queued.
	clk := clock.NewFake(time.Now())
	cfg := apptest.Config(t)
	cfg.PresenceGrace = time.Second
	srv := apptest.Start(t, cfg, clk)
	alice, bob, carol := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "carol")
	conv, err := alice.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatal(err)
	}

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
	waitGrace(t, clk, cfg)
	clk.Advance(cfg.PresenceGrace) // a later connect is not a reconnect within the grace

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
	ac := served(t, alice.Dial(ctx)) // subscribed to her contact bob
	cc := carol.Dial(ctx)
	if err := cc.SubscribePresence(ctx, bob.UserID); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.Next(ctx, "presence"); err != nil { // the snapshot: offline
		t.Fatal(err)
	}
	// Connecting announces (or not) before the server reads any frame.
	bc = served(t, bob.Dial(ctx))
	if p, _ := alice.API.Presence(ctx, bob.UserID); p.Status != "offline" {
		t.Fatalf("hidden online shown to alice: %+v", p)
	}
	if p, _ := bob.API.Presence(ctx, bob.UserID); p.Status != "online" {
		t.Fatalf("bob does not see himself online: %+v", p)
	}
	bc.Close()
	waitPresence(t, bob, bob.UserID, "offline")
	waitGrace(t, clk, cfg)
	clk.Advance(cfg.PresenceGrace) // the offline announcement is made within Advance
	quiet(t, ac, "presence")       // nothing about hidden bob, online or offline
	quiet(t, cc, "presence")
	// Online visible to contacts only: carol subscribed, alice is a contact.
	setPrivacy(t, bob, map[string]string{"online_visibility": "contacts"})
	bc = served(t, bob.Dial(ctx))
	if f, err := ac.Next(ctx, "presence"); err != nil || f.UserID != bob.UserID || f.Status != "online" {
		t.Fatalf("contact alice = %+v, %v", f, err)
	}
	quiet(t, cc, "presence") // non-contact carol
	bc.Close()
}

func TestComposingExpires(t *testing.T) {
	ctx := testCtx(t)
	clk := clock.NewFake(time.Now())
	cfg := apptest.Config(t)
	cfg.TypingTimeout = 300 * time.Millisecond
	srv := apptest.Start(t, cfg, clk)
	alice, bob, carol := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "carol")
	g, err := alice.API.CreateGroup(ctx, "g", []string{bob.UserID, carol.UserID})
	if err != nil {
		t.Fatal(err)
	}
	ac, bc := alice.Dial(ctx), served(t, bob.Dial(ctx)) // carol is offline
	if err := ac.Typing(ctx, g.ConversationID, "composing"); err != nil {
		t.Fatal(err)
	}
	if f, err := bc.Next(ctx, "typing"); err != nil || f.State != "composing" || f.UserID != alice.UserID {
		t.Fatalf("composing = %+v, %v", f, err)
	}
	// The relay runs in alice's reader, one member after the other: bob
	// having it says nothing of carol's turn. Her heartbeat's answer,
	// handled after it, says the relay is over, so carol, connecting
	// below, cannot get it.
	served(t, ac)
	// alice's client vanishes mid-sentence: the indicator ends by itself
	// once the timeout has passed, and not before. The expiry fires within
	// Advance, so its frame is queued before bob's heartbeat's ack.
	if err := clk.WaitForTimers(ctx, cfg.TypingTimeout, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(cfg.TypingTimeout - time.Millisecond)
	quiet(t, bc, "typing")
	clk.Advance(time.Millisecond)
	if f, err := bc.Next(ctx, "typing"); err != nil || f.State != "paused" || f.UserID != alice.UserID {
		t.Fatalf("after the timeout = %+v, %v", f, err)
	}
	// carol, offline meanwhile, is never handed the stored composing
	// state: typing is not queued. (The paused relay is over: it ran
	// within Advance, before she connects.)
	quiet(t, carol.Dial(ctx), "typing")
}
