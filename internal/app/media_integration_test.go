package app_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/media/mediatest"
)

// TestMediaIDIsNoKey: a message may carry only media its sender uploaded
// or can already see; knowing an id gives nothing.
func TestMediaIDIsNoKey(t *testing.T) {
	ctx := testCtx(t)
	srv, alice, bob, conv := pair(t)
	mallory := srv.NewUser(ctx, "mallory")
	mine := mustUpload(t, alice, "image/png", mediatest.PNG(t, 20, 20))
	withCarol, err := mallory.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	mc := mallory.Dial(ctx)
	_, err = mc.SendMessage(ctx, client.OutgoingMessage{ClientMessageID: "steal", ConversationID: withCarol.ConversationID,
		MessageType: "image", MediaID: mine.MediaID})
	if client.ErrorCode(err) != "not_found" {
		t.Fatalf("attaching someone else's media: %v, want not_found", err)
	}
	if _, err := mallory.API.GetMedia(ctx, mine.MediaID); client.ErrorCode(err) != "not_found" {
		t.Fatalf("mallory fetches alice's media: %v", err)
	}
	// The uploader may attach it; then bob, who received it, may forward it.
	ac := alice.Dial(ctx)
	if _, err := ac.SendMessage(ctx, client.OutgoingMessage{ClientMessageID: "own", ConversationID: conv.ConversationID,
		MessageType: "image", MediaID: mine.MediaID}); err != nil {
		t.Fatalf("uploader attaches: %v", err)
	}
	bc := bob.Dial(ctx)
	if _, err := bc.SendMessage(ctx, client.OutgoingMessage{ClientMessageID: "fwd", ConversationID: withCarol.ConversationID,
		MessageType: "image", MediaID: mine.MediaID}); err != nil {
		t.Fatalf("a recipient forwards: %v", err)
	}
}

// TestMediaExpiresWithRetention: a media item is not served once it is
// older than the retention (before any cleanup), and the cleanup job
// deletes it.
func TestMediaExpiresWithRetention(t *testing.T) {
	ctx := testCtx(t)
	clk := clock.NewFake(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	cfg := apptest.Config(t)
	cfg.Retention, cfg.CleanupInterval, cfg.SessionTTL = month, time.Hour, 90*24*time.Hour
	srv := apptest.Start(t, cfg, clk)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
	conv, _ := alice.API.CreateDirect(ctx, bob.UserID)
	m := mustUpload(t, alice, "image/png", mediatest.PNG(t, 20, 20))
	ac := alice.Dial(ctx)
	if _, err := ac.SendMessage(ctx, client.OutgoingMessage{ClientMessageID: "m", ConversationID: conv.ConversationID,
		MessageType: "image", MediaID: m.MediaID}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.API.GetMedia(ctx, m.MediaID); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	clk.Advance(month + time.Second)
	_, err := bob.API.GetMedia(ctx, m.MediaID)
	wantCode(t, err, http.StatusNotFound, "not_found")
	sum, err := srv.App.RunCleanup(ctx)
	if err != nil || sum.Media != 1 || sum.MediaBytes == 0 {
		t.Fatalf("cleanup = %+v, %v; want the media item deleted", sum, err)
	}
	if left := mediaDirFiles(t, srv); len(left) != 0 {
		t.Fatalf("expired media left %v", left)
	}
}
