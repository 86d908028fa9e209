package app_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
)

// TestSlowConsumerIsDroppedAndLosesNothing: a client that stops reading is
// disconnected once its queue overflows (4008), and on reconnect receives
// every message, in order.
func TestSlowConsumerIsDroppedAndLosesNothing(t *testing.T) {
	ctx := testCtx(t)
	cfg := apptest.Config(t)
	cfg.MaxQueue = 16
	srv := apptest.Start(t, cfg, nil)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
	conv, err := alice.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	// bob's client buffers one frame and never reads it: the socket's
	// buffers fill, then the server's queue for him.
	stuck, err := bob.API.Dial(ctx, client.DialOptions{Buffer: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Abort()
	ac := alice.Dial(ctx)
	big := strings.Repeat("x", 60<<10)
	const total = 200
	for i := range total {
		if _, err := ac.SendMessage(ctx, text(fmt.Sprint(i), conv.ConversationID, big)); err != nil {
			t.Fatal(err)
		}
	}
	// The socket is jammed, so no close frame can reach bob: the server
	// just drops the connection, and he shows offline.
	waitPresence(t, alice, bob.UserID, "offline")
	if body := metricsBody(t, srv); !strings.Contains(body, "parley_slow_consumer_disconnects_total 1") {
		t.Fatal("the disconnect was not counted as a slow consumer")
	}
	bc := bob.Dial(ctx)
	for i := range total {
		f, err := bc.Next(ctx, "message")
		if err != nil || f.SequenceNumber != int64(i+1) {
			t.Fatalf("message %d: seq %d, %v", i+1, f.SequenceNumber, err)
		}
		if err := bc.Ack(ctx, f.MessageID); err != nil {
			t.Fatal(err)
		}
	}
}
