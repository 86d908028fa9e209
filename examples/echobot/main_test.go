package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/wire"
)

// TestEchoBot runs the bot against a real server: a person's message comes
// back as a reply quoting it, and a rotated key stops the bot, which
// cannot help it by reconnecting.
func TestEchoBot(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := apptest.Start(t, apptest.Config(t), nil)
	owner, alice := srv.NewUser(ctx, "owner"), srv.NewUser(ctx, "alice")
	key, err := owner.API.CreateBot(ctx, "echo", "Echo")
	if err != nil {
		t.Fatal(err)
	}
	conv, err := alice.API.CreateDirect(ctx, key.UserID)
	if err != nil {
		t.Fatal(err)
	}
	ac := alice.Dial(ctx)
	// Sent before the bot runs: it reaches the bot at its first connect.
	early, err := ac.SendMessage(ctx, client.OutgoingMessage{ClientMessageID: "a-1", ConversationID: conv.ConversationID, MessageType: "text", Content: "are you there?"})
	if err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() {
		done <- run(ctx, config{URL: srv.URL, Key: key.APIKey, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Heartbeat: 0})
	}()
	echoOf := func(want client.Ack, content string) {
		t.Helper()
		f, err := ac.Next(ctx, wire.TypeMessage)
		if err != nil {
			t.Fatal(err)
		}
		if f.SenderID != key.UserID || f.ReplyTo != want.MessageID || f.Content != content || f.Quote == nil {
			t.Fatalf("got %+v, want the bot's echo of %s", f, want.MessageID)
		}
	}
	echoOf(early, "are you there?")
	live, err := ac.SendMessage(ctx, client.OutgoingMessage{ClientMessageID: "a-2", ConversationID: conv.ConversationID, MessageType: "text", Content: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	echoOf(live, "hello")

	if _, err := owner.API.RotateBotKey(ctx, key.BotID); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, errKeyRefused) {
			t.Fatalf("after rotation: %v, want errKeyRefused", err)
		}
	case <-ctx.Done():
		t.Fatal("the bot kept running on a rotated key")
	}
}
