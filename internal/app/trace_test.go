package app_test

import (
	"errors"
	"testing"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/wire"
)

// TestTrace follows one message through a recipient device, as its
// sender's trace tells it: queued while the device is offline, written at
// the device's connect, acknowledged by its delivery_ack, read by its
// read receipt; a message committed while the device is connected is
// written at once, and stays written after the device leaves without
// acknowledging it. Only the sender sees a trace: a member or a stranger
// gets the answer of an unknown id.
func TestTrace(t *testing.T) {
	bothEngines(t, func(t *testing.T, cfg config.Config) {
		ctx := testCtx(t)
		t0 := time.UnixMilli(1_790_000_000_000)
		clk := clock.NewFake(t0)
		srv := apptest.Start(t, cfg, clk)
		alice, bob, carol := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "carol")
		conv, err := alice.API.CreateDirect(ctx, bob.UserID)
		if err != nil {
			t.Fatal(err)
		}
		ac := served(t, alice.Dial(ctx))
		ack, err := ac.SendMessage(ctx, text("t1", conv.ConversationID, "hello"))
		if err != nil {
			t.Fatal(err)
		}
		ms := func(d time.Duration) int64 { return t0.Add(d).UnixMilli() }
		device := func(what, id string) client.MessageTrace {
			t.Helper()
			tr, err := alice.API.Trace(ctx, id)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if len(tr.Recipients) != 1 || tr.Recipients[0].UserID != bob.UserID || len(tr.Recipients[0].Devices) != 1 {
				t.Fatalf("%s: trace = %+v, want bob's one device", what, tr)
			}
			return tr
		}

		tr := device("offline", ack.MessageID)
		d := tr.Recipients[0].Devices[0]
		if tr.CommittedAt != ms(0) || tr.Recipients[0].Status != "sent" || d.State != "queued" || d.QueuedSince != ms(0) || d.Online ||
			d.DeviceID != bob.Session.DeviceID {
			t.Fatalf("offline: %+v / %+v, want queued since %d", tr, d, ms(0))
		}

		// Nobody but the sender learns anything, not even that it exists.
		_, unknown := alice.API.Trace(ctx, "no-such-message")
		wantStatus(t, unknown, 404, "not_found", "unknown id")
		for who, u := range map[string]*apptest.User{"member": bob, "stranger": carol} {
			_, err := u.API.Trace(ctx, ack.MessageID)
			wantStatus(t, err, 404, "not_found", who)
			var e, ue *client.Error
			if errors.As(err, &e) && errors.As(unknown, &ue) && e.Message != ue.Message {
				t.Fatalf("%s: %q, want the unknown id's %q", who, e.Message, ue.Message)
			}
		}

		// Bob connects 10 s later: the sync wrote it then.
		clk.Advance(10 * time.Second)
		bc := bob.Dial(ctx) // not served(): its sync comes first
		if _, err := bc.Next(ctx, "message"); err != nil {
			t.Fatal(err)
		}
		d = device("connected", ack.MessageID).Recipients[0].Devices[0]
		if d.State != "written" || d.WrittenAt != ms(10*time.Second) || !d.Online {
			t.Fatalf("connected: %+v, want written at %d, online", d, ms(10*time.Second))
		}

		clk.Advance(5 * time.Second)
		if err := bc.Ack(ctx, ack.MessageID); err != nil {
			t.Fatal(err)
		}
		waitFrameStatus(t, ac, ack.MessageID, "delivered")
		tr = device("acknowledged", ack.MessageID)
		d = tr.Recipients[0].Devices[0]
		if d.State != "acknowledged" || d.AcknowledgedAt != ms(15*time.Second) || d.WrittenAt != ms(10*time.Second) ||
			tr.Recipients[0].Status != "delivered" || tr.Recipients[0].DeliveredAt != ms(15*time.Second) {
			t.Fatalf("acknowledged: %+v / %+v", tr.Recipients[0], d)
		}

		clk.Advance(5 * time.Second)
		if err := bc.Read(ctx, conv.ConversationID, ack.MessageID); err != nil {
			t.Fatal(err)
		}
		waitFrameStatus(t, ac, ack.MessageID, "read")
		r := device("read", ack.MessageID).Recipients[0]
		if r.Status != "read" || r.ReadAt != ms(20*time.Second) || r.DeliveredAt != ms(15*time.Second) {
			t.Fatalf("read: %+v", r)
		}
		// The read receipt named what the device had: its cursor did not
		// move, nor did the time of its acknowledgement.
		if d := r.Devices[0]; d.AcknowledgedAt != ms(15*time.Second) {
			t.Fatalf("after the read: %+v, want still acknowledged at %d", d, ms(15*time.Second))
		}

		// Committed while bob is connected: written at once. He leaves
		// without acknowledging it; it stays written, and the next one,
		// committed while he is away, is queued.
		clk.Advance(5 * time.Second)
		live, err := ac.SendMessage(ctx, text("t2", conv.ConversationID, "still there?"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bc.Next(ctx, "message"); err != nil {
			t.Fatal(err)
		}
		d = device("live", live.MessageID).Recipients[0].Devices[0]
		if d.State != "written" || d.WrittenAt != ms(25*time.Second) {
			t.Fatalf("live: %+v, want written at %d", d, ms(25*time.Second))
		}
		if err := ac.SubscribePresence(ctx, bob.UserID); err != nil {
			t.Fatal(err)
		}
		waitPresenceFrame(t, ac, bob.UserID, "online")
		clk.Advance(5 * time.Second)
		_ = bc.Close()
		waitPresenceFrame(t, ac, bob.UserID, "offline")
		d = device("left", live.MessageID).Recipients[0].Devices[0]
		if d.State != "written" || d.WrittenAt != ms(25*time.Second) || d.Online {
			t.Fatalf("after bob left: %+v, want written at %d, offline", d, ms(25*time.Second))
		}
		clk.Advance(5 * time.Second)
		away, err := ac.SendMessage(ctx, text("t3", conv.ConversationID, "gone?"))
		if err != nil {
			t.Fatal(err)
		}
		d = device("away", away.MessageID).Recipients[0].Devices[0]
		if d.State != "queued" || d.QueuedSince != ms(35*time.Second) || d.WrittenAt != 0 {
			t.Fatalf("away: %+v, want queued since %d", d, ms(35*time.Second))
		}
	})
}

// TestTraceRecipients: a group message lists the members whose window
// holds it, a removed member only for what was sent before its removal;
// a recipient that hides its online status shows no connection (queued
// until acknowledged, offline); a message withheld by a block is "sent"
// with no device, as for a recipient signed in nowhere (the sender must
// not learn of the block).
func TestTraceRecipients(t *testing.T) {
	bothEngines(t, func(t *testing.T, cfg config.Config) {
		ctx := testCtx(t)
		srv := apptest.Start(t, cfg, nil)
		alice, bob, carol := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "carol")
		g, err := alice.API.CreateGroup(ctx, "g", []string{bob.UserID, carol.UserID})
		if err != nil {
			t.Fatal(err)
		}
		ac := served(t, alice.Dial(ctx))
		before, err := ac.SendMessage(ctx, text("r1", g.ConversationID, "all of you"))
		if err != nil {
			t.Fatal(err)
		}
		if err := alice.API.RemoveParticipant(ctx, g.ConversationID, carol.UserID); err != nil {
			t.Fatal(err)
		}
		after, err := ac.SendMessage(ctx, text("r2", g.ConversationID, "just bob"))
		if err != nil {
			t.Fatal(err)
		}
		users := func(id string) []string {
			tr, err := alice.API.Trace(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, r := range tr.Recipients {
				out = append(out, r.UserID)
			}
			return out
		}
		if got := users(before.MessageID); len(got) != 2 {
			t.Fatalf("before the removal: recipients %v, want bob and carol", got)
		}
		if got := users(after.MessageID); len(got) != 1 || got[0] != bob.UserID {
			t.Fatalf("after the removal: recipients %v, want bob alone", got)
		}

		// Bob is connected and has not acknowledged it: written, online,
		// until he hides his online status from everyone.
		served(t, bob.Dial(ctx))
		live, err := ac.SendMessage(ctx, text("r2b", g.ConversationID, "are you there?"))
		if err != nil {
			t.Fatal(err)
		}
		bobsDevice := func() client.TraceDevice {
			tr, err := alice.API.Trace(ctx, live.MessageID)
			if err != nil || len(tr.Recipients) != 1 || len(tr.Recipients[0].Devices) != 1 {
				t.Fatalf("trace = %+v, %v; want bob's one device", tr, err)
			}
			return tr.Recipients[0].Devices[0]
		}
		if d := bobsDevice(); d.State != "written" || !d.Online || d.WrittenAt == 0 {
			t.Fatalf("visible: %+v, want written and online", d)
		}
		if _, err := bob.API.UpdateSettings(ctx, wire.SettingsUpdate{OnlineVisibility: "nobody"}); err != nil {
			t.Fatal(err)
		}
		if d := bobsDevice(); d.State != "queued" || d.Online || d.WrittenAt != 0 {
			t.Fatalf("hidden: %+v, want queued and offline", d)
		}

		dm, err := alice.API.CreateDirect(ctx, bob.UserID)
		if err != nil {
			t.Fatal(err)
		}
		if err := bob.API.BlockUser(ctx, alice.UserID); err != nil {
			t.Fatal(err)
		}
		held, err := ac.SendMessage(ctx, text("r3", dm.ConversationID, "blocked?"))
		if err != nil {
			t.Fatal(err)
		}
		tr, err := alice.API.Trace(ctx, held.MessageID)
		if err != nil {
			t.Fatal(err)
		}
		if len(tr.Recipients) != 1 || tr.Recipients[0].Status != "sent" || len(tr.Recipients[0].Devices) != 0 {
			t.Fatalf("withheld: %+v, want sent with no device", tr.Recipients)
		}
	})
}

// waitFrameStatus reads c's frames until a status of messageID says want.
func waitFrameStatus(t *testing.T, c *client.Conn, messageID, want string) {
	t.Helper()
	ctx := testCtx(t)
	for {
		f, err := c.Next(ctx, "status")
		if err != nil {
			t.Fatalf("waiting for %s of %s: %v", want, messageID, err)
		}
		if f.MessageID == messageID && f.Status == want {
			return
		}
	}
}

// waitPresenceFrame reads c's frames until a presence of userID says want.
func waitPresenceFrame(t *testing.T, c *client.Conn, userID, want string) {
	t.Helper()
	ctx := testCtx(t)
	for {
		f, err := c.Next(ctx, "presence")
		if err != nil {
			t.Fatalf("waiting for %s to be %s: %v", userID, want, err)
		}
		if f.UserID == userID && f.Status == want {
			return
		}
	}
}
