package app_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
)

var slowDrops = regexp.MustCompile(`(?m)^parley_slow_consumer_disconnects_total 1$`)

// TestSlowConsumerIsDroppedAndLosesNothing: a client that stops reading is
// disconnected once its queue overflows (4008), and on reconnect receives
// every message, in order.
func TestSlowConsumerIsDroppedAndLosesNothing(t *testing.T) {
	// Its own deadline: jamming a loopback socket takes megabytes (the
	// kernel buffers hold about 5 MB here), and under -race on a busy
	// machine their round trips take longer than testCtx's 30 s allows.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := apptest.Config(t)
	cfg.MaxQueue = 16
	// Only the queue's overflow may end the jammed connection: a write
	// timing out first would close it as a failed write instead, a race
	// against the wall clock that a busy machine loses.
	cfg.WriteTimeout = time.Hour
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
	// Large messages jam the socket in the fewest round trips. alice sends
	// until the server has dropped bob, then a few more that are queued
	// for him while he is away.
	big := strings.Repeat("x", 60<<10)
	const most, after = 400, 5 // 400 messages are 24 MB, five times what jams the socket here
	total, dropped := 0, -1
	for ; dropped < 0 || total < dropped+after; total++ {
		if total == most {
			t.Fatalf("%d messages of %d KiB did not overflow a queue of %d", most, len(big)>>10, cfg.MaxQueue)
		}
		if _, err := ac.SendMessage(ctx, text(fmt.Sprint(total), conv.ConversationID, big)); err != nil {
			t.Fatal(err)
		}
		if dropped < 0 && slowDrops.FindString(metricsBody(t, srv)) != "" {
			dropped = total + 1
		}
	}
	t.Logf("bob was dropped after %d messages of %d KiB", dropped, len(big)>>10)
	// The socket is jammed, so no close frame can reach bob: the server
	// just drops the connection, and he shows offline.
	waitPresence(t, alice, bob.UserID, "offline")
	if slowDrops.FindString(metricsBody(t, srv)) == "" {
		t.Fatal("the disconnect was counted more than once")
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
