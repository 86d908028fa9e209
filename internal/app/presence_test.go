package app_test

import (
	"testing"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/clock"
)

func TestPresenceOnlineOfflineAndLastSeen(t *testing.T) {
	ctx := testCtx(t)
	srv, alice, bob, _ := pair(t)
	ac := alice.Dial(ctx)
	if err := ac.SubscribePresence(ctx, bob.UserID); err != nil {
		t.Fatal(err)
	}
	// The subscription answers at once with the current state.
	f, err := ac.Next(ctx, "presence")
	if err != nil || f.UserID != bob.UserID || f.Status != "offline" || f.LastSeen != nil {
		t.Fatalf("initial presence = %+v, %v", f, err)
	}
	p, err := alice.API.Presence(ctx, bob.UserID)
	if err != nil || p.Status != "offline" {
		t.Fatalf("GET presence = %+v, %v", p, err)
	}

	bc := bob.Dial(ctx)
	if f, err = ac.Next(ctx, "presence"); err != nil || f.Status != "online" || f.UserID != bob.UserID {
		t.Fatalf("online frame = %+v, %v", f, err)
	}
	// A second device does not change anything; closing one of two neither.
	second := apptest.Dial(ctx, t, bob.NewDevice(ctx))
	// A heartbeat round trip proves the server has registered the second
	// connection (it reads frames only after that).
	if err := second.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := second.Next(ctx, "heartbeat_ack"); err != nil {
		t.Fatal(err)
	}
	bc.Close()
	if p, _ := alice.API.Presence(ctx, bob.UserID); p.Status != "online" {
		t.Fatalf("bob with one device left = %+v", p)
	}
	before := time.Now().UnixMilli()
	second.Close()
	f, err = ac.Next(ctx, "presence")
	if err != nil || f.Status != "offline" || f.LastSeen == nil || *f.LastSeen < before {
		t.Fatalf("offline frame = %+v, %v", f, err)
	}
	lastSeen := *f.LastSeen

	// Last seen survives a restart.
	srv.Restart()
	p, err = alice.API.Presence(ctx, bob.UserID)
	if err != nil || p.Status != "offline" || p.LastSeen == nil || *p.LastSeen != lastSeen {
		t.Fatalf("after restart = %+v, %v; want last_seen %d", p, err, lastSeen)
	}
}

func TestSilentConnectionGoesOffline(t *testing.T) {
	ctx := testCtx(t)
	clk := clock.NewFake(time.Now())
	cfg := apptest.Config(t)
	cfg.HeartbeatTimeout = 400 * time.Millisecond
	cfg.PresenceGrace = 10 * time.Second // a connection that timed out skips it
	srv := apptest.Start(t, cfg, clk)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
	if _, err := alice.API.CreateDirect(ctx, bob.UserID); err != nil {
		t.Fatal(err)
	}
	// bob watches alice; his connection heartbeats too, to stay open.
	watcher := served(t, bob.Dial(ctx))
	talker := served(t, alice.Dial(ctx))
	if f, err := watcher.Next(ctx, "presence"); err != nil || f.UserID != alice.UserID || f.Status != "online" {
		t.Fatalf("alice online = %+v, %v", f, err)
	}
	// Each reader re-arms its timeout once it has handled a frame.
	rearmed := func() {
		t.Helper()
		if err := clk.WaitForTimers(ctx, cfg.HeartbeatTimeout, 2); err != nil {
			t.Fatal(err)
		}
	}

	// Heartbeats keep a connection open past the timeout: six times just
	// under it, each measured from the last frame. A timeout that fired
	// would have ended the read, and the heartbeat would get no ack.
	for range 6 {
		rearmed()
		clk.Advance(cfg.HeartbeatTimeout - time.Millisecond)
		served(t, talker)
		served(t, watcher)
	}
	if p, _ := bob.API.Presence(ctx, alice.UserID); p.Status != "online" {
		t.Fatalf("heartbeating user shown %+v", p)
	}
	// ...and silence closes it: alice stops while bob goes on, so her
	// timeout falls due half a timeout before his. She goes offline
	// without closing anything herself (a half-open connection looks
	// exactly like this).
	rearmed()
	clk.Advance(cfg.HeartbeatTimeout / 2)
	served(t, watcher)
	rearmed()
	clk.Advance(cfg.HeartbeatTimeout / 2)
	select {
	case <-talker.Done():
	case <-ctx.Done():
		t.Fatal("silent connection stayed open")
	}
	// She was silent for the whole timeout already: bob is told at once,
	// not after the grace (the fake clock does not move on its own).
	if f, err := watcher.Next(ctx, "presence"); err != nil || f.UserID != alice.UserID || f.Status != "offline" || f.LastSeen == nil {
		t.Fatalf("offline after the timeout = %+v, %v", f, err)
	}
	waitPresence(t, bob, alice.UserID, "offline")
}

func TestTypingReachesOnlineMembersOnly(t *testing.T) {
	ctx := testCtx(t)
	_, alice, bob, conv := pair(t)
	ac, bc := alice.Dial(ctx), served(t, bob.Dial(ctx))
	if err := ac.Typing(ctx, conv.ConversationID, "composing"); err != nil {
		t.Fatal(err)
	}
	f, err := bc.Next(ctx, "typing")
	if err != nil || f.UserID != alice.UserID || f.State != "composing" || f.ConversationID != conv.ConversationID {
		t.Fatalf("typing = %+v, %v", f, err)
	}
	// Typing is never stored: bob's next connect brings no typing frame.
	bc.Close()
	if err := ac.Typing(ctx, conv.ConversationID, "paused"); err != nil {
		t.Fatal(err)
	}
	ack, err := ac.SendMessage(ctx, text("t1", conv.ConversationID, "after typing"))
	if err != nil {
		t.Fatal(err)
	}
	bc = bob.Dial(ctx)
	f, err = bc.Next(ctx, "message", "typing")
	if err != nil || f.Type != "message" || f.MessageID != ack.MessageID {
		t.Fatalf("first frame after reconnect = %+v, %v; want the message, no typing", f, err)
	}
}

// served waits until the server has registered c (it answers frames only
// after that): typing is never queued, so a frame sent to a connection
// still being registered is simply not for it.
func served(t *testing.T, c *client.Conn) *client.Conn {
	t.Helper()
	ctx := testCtx(t)
	if err := c.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Next(ctx, "heartbeat_ack"); err != nil {
		t.Fatal(err)
	}
	return c
}

// quiet fails if a frame of one of types reaches c before the answer to a
// heartbeat: the connection's one writer writes in queue order, so a frame
// queued before the heartbeat was handled arrives first. The caller first
// makes sure that such a frame, if there were one, would be queued by now.
func quiet(t *testing.T, c *client.Conn, types ...string) {
	t.Helper()
	ctx := testCtx(t)
	if err := c.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	f, err := c.Next(ctx, append(types, "heartbeat_ack")...)
	if err != nil {
		t.Fatal(err)
	}
	if f.Type != "heartbeat_ack" {
		t.Fatalf("got %s, want no %v frame before the heartbeat_ack", f.Raw, types)
	}
}
