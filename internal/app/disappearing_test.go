package app_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/media/mediatest"
	"github.com/parleychat/parley/wire"
)

// TestDisappearingMessages: any member of a 1:1 turns them on; the change
// is a system message both get; a message sent before keeps no expiry,
// one sent after expires a day after it was sent: hidden from history at
// that moment, before any sweep, and deleted by the next expiry pass.
// Bad values are refused, and in a group only admins may change it.
func TestDisappearingMessages(t *testing.T) {
	bothEngines(t, func(t *testing.T, cfg config.Config) {
		ctx := testCtx(t)
		clk := clock.NewFake(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
		cfg.CleanupInterval = time.Hour // never during a test: the fake clock does not tick it
		cfg.SessionTTL = 90 * 24 * time.Hour
		srv := apptest.Start(t, cfg, clk)
		alice, bob, carol := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "carol")
		conv, err := alice.API.CreateDirect(ctx, bob.UserID)
		if err != nil {
			t.Fatal(err)
		}
		ac, bc := served(t, alice.Dial(ctx)), served(t, bob.Dial(ctx))
		before, err := ac.SendMessage(ctx, text("before", conv.ConversationID, "kept"))
		if err != nil {
			t.Fatal(err)
		}
		if f, err := bc.Next(ctx, "message"); err != nil || f.MessageID != before.MessageID || f.ExpiresAt != 0 {
			t.Fatalf("message before the setting: %+v, %v; want no expires_at", f, err)
		}

		for _, bad := range []int{1, 3600, -86400, 86401} {
			_, err := bob.API.SetDisappearing(ctx, conv.ConversationID, bad)
			wantCode(t, err, http.StatusBadRequest, "invalid")
		}
		c, err := bob.API.SetDisappearing(ctx, conv.ConversationID, wire.Disappearing24h)
		if err != nil || c.DisappearingSeconds != wire.Disappearing24h {
			t.Fatalf("turn on = %+v, %v", c, err)
		}
		// The other member hears of it (the actor's own device made it).
		if f, err := ac.Next(ctx, "message"); err != nil || f.MessageType != "system" ||
			!strings.Contains(f.Content, `"event":"disappearing_changed"`) || !strings.Contains(f.Content, `"seconds":86400`) ||
			!strings.Contains(f.Content, `"actor_id":"`+bob.UserID+`"`) {
			t.Fatalf("system message = %+v, %v", f, err)
		}
		if list, err := alice.API.Conversations(ctx); err != nil || len(list) != 1 || list[0].DisappearingSeconds != wire.Disappearing24h {
			t.Fatalf("alice's list = %+v, %v", list, err)
		}

		after, err := ac.SendMessage(ctx, text("after", conv.ConversationID, "gone tomorrow"))
		if err != nil {
			t.Fatal(err)
		}
		f, err := bc.Next(ctx, "message")
		day := int64(24 * time.Hour / time.Millisecond)
		if err != nil || f.MessageID != after.MessageID || f.ExpiresAt != f.CreatedAt+day {
			t.Fatalf("message after the setting: %+v, %v; want expires_at a day after created_at", f, err)
		}

		history := func() []string {
			t.Helper()
			h, err := bob.API.Messages(ctx, conv.ConversationID, client.HistoryOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, m := range h {
				if m.MessageType != "system" {
					ids = append(ids, m.MessageID)
				}
			}
			return ids
		}
		clk.Advance(24*time.Hour - time.Millisecond)
		if got := history(); len(got) != 2 {
			t.Fatalf("history just before expiry = %v, want both messages", got)
		}
		clk.Advance(time.Millisecond)
		if got := history(); len(got) != 1 || got[0] != before.MessageID {
			t.Fatalf("history at expiry, before any sweep = %v, want the first message only", got)
		}
		sum, err := srv.App.RunExpiry(ctx)
		if err != nil || sum.ExpiredMessages != 1 {
			t.Fatalf("expiry pass = %+v, %v; want the disappearing message deleted", sum, err)
		}
		if _, err := alice.API.MessageStatus(ctx, after.MessageID); client.ErrorCode(err) != "not_found" {
			t.Fatalf("status of a deleted message: %v, want not_found", err)
		}

		// Off again: new messages stay. (A day on the clock timed the
		// connections out: connect again.)
		ac, bc = served(t, alice.Dial(ctx)), served(t, bob.Dial(ctx))
		if c, err := alice.API.SetDisappearing(ctx, conv.ConversationID, wire.DisappearingOff); err != nil || c.DisappearingSeconds != 0 {
			t.Fatalf("turn off = %+v, %v", c, err)
		}
		if f, err := bc.Next(ctx, "message"); err != nil || f.MessageType != "system" {
			t.Fatalf("system message of turning off = %+v, %v", f, err)
		}
		if _, err := ac.SendMessage(ctx, text("later", conv.ConversationID, "stays")); err != nil {
			t.Fatal(err)
		}
		if f, err := bc.Next(ctx, "message"); err != nil || f.ExpiresAt != 0 {
			t.Fatalf("message after turning off: %+v, %v", f, err)
		}

		// A group: admins only.
		g, err := alice.API.CreateGroup(ctx, "g", []string{bob.UserID, carol.UserID})
		if err != nil {
			t.Fatal(err)
		}
		_, err = bob.API.SetDisappearing(ctx, g.ConversationID, wire.Disappearing7d)
		wantCode(t, err, http.StatusForbidden, "forbidden")
		if c, err := alice.API.SetDisappearing(ctx, g.ConversationID, wire.Disappearing7d); err != nil || c.DisappearingSeconds != wire.Disappearing7d {
			t.Fatalf("an admin turns it on = %+v, %v", c, err)
		}
		_, err = srv.NewUser(ctx, "dave").API.SetDisappearing(ctx, g.ConversationID, wire.Disappearing90d)
		wantCode(t, err, http.StatusForbidden, "forbidden")
	})
}

// TestDisappearingMediaErased: a disappearing message's media is erased
// with it by the expiry pass, for its uploader too; it does not wait for
// the retention period as other media do.
func TestDisappearingMediaErased(t *testing.T) {
	ctx := testCtx(t)
	clk := clock.NewFake(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	cfg := apptest.Config(t)
	cfg.CleanupInterval = time.Hour // never during a test: the fake clock does not tick it
	cfg.SessionTTL = 90 * 24 * time.Hour
	srv := apptest.Start(t, cfg, clk)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
	conv, err := alice.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.API.SetDisappearing(ctx, conv.ConversationID, wire.Disappearing24h); err != nil {
		t.Fatal(err)
	}
	up := mustUpload(t, alice, "image/png", mediatest.PNG(t, 8, 8))
	ac := served(t, alice.Dial(ctx))
	if _, err := ac.SendMessage(ctx, client.OutgoingMessage{ClientMessageID: "p1", ConversationID: conv.ConversationID,
		MessageType: "image", MediaID: up.MediaID}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.API.GetMedia(ctx, up.MediaID); err != nil {
		t.Fatalf("bob's media before expiry: %v", err)
	}
	clk.Advance(24 * time.Hour)
	if sum, err := srv.App.RunExpiry(ctx); err != nil || sum.ExpiredMessages != 1 {
		t.Fatalf("expiry pass = %+v, %v", sum, err)
	}
	for _, u := range []*apptest.User{alice, bob} {
		if _, err := u.API.GetMedia(ctx, up.MediaID); client.ErrorCode(err) != "not_found" {
			t.Fatalf("%s's media after the message disappeared: %v, want not_found", u.Username, err)
		}
	}
}
