package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/config"
)

// TestThousandReceiptsReachTheSender: a recipient acknowledges and reads
// 1,000 messages one frame each, pipelined, so the committer coalesces
// them into a few cursor moves. The sender's online device is told every
// message exactly once per change, live; its device that was offline is
// told the same on connect; nothing more follows (a later receipt is the
// next status either sees). On both engines.
func TestThousandReceiptsReachTheSender(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testThousandReceipts(t, apptest.Config(t)) })
	t.Run("postgres", func(t *testing.T) {
		cfg := apptest.Config(t)
		cfg.Store = apptest.Postgres(t)
		testThousandReceipts(t, cfg)
	})
}

func testThousandReceipts(t *testing.T, cfg config.Config) {
	const n = 1000
	// 2,000 receipt frames from one connection at once: the frame rate
	// limit is what this test must pass, not what it tests.
	cfg.RateLimit, cfg.RateBurst = 1e6, 1e6
	// 3,000 frames each way under -race on a busy machine: a deadline
	// well past what it takes, there only to end a hung run.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := apptest.Start(t, cfg, nil)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
	conv, err := alice.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	offline := alice.NewDevice(ctx) // signed in now, connects after the receipts
	ac, bc := alice.Dial(ctx), bob.Dial(ctx)

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(64)
	for i := range n {
		g.Go(func() error {
			_, err := ac.SendMessage(gctx, text(fmt.Sprint("m", i), conv.ConversationID, "x"))
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, n)
	for i := range ids {
		f, err := bc.Next(ctx, "message")
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = f.MessageID
	}
	for _, id := range ids {
		if err := bc.Ack(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		if err := bc.Read(ctx, conv.ConversationID, id); err != nil {
			t.Fatal(err)
		}
	}
	countStatuses(ctx, t, "live", ac, ids)

	// A sentinel: a later receipt is the next status either device sees.
	sentinel, err := ac.SendMessage(ctx, text("sentinel", conv.ConversationID, "x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bc.Next(ctx, "message"); err != nil {
		t.Fatal(err)
	}
	if err := bc.Ack(ctx, sentinel.MessageID); err != nil {
		t.Fatal(err)
	}
	expectSentinel := func(what string, c *client.Conn) {
		t.Helper()
		f, err := c.Next(ctx, "status")
		if err != nil {
			t.Fatal(err)
		}
		if f.MessageID != sentinel.MessageID || f.Status != "delivered" {
			t.Fatalf("%s: status after the 2,000 = %s of %s; want the sentinel's delivered", what, f.Status, f.MessageID)
		}
	}
	expectSentinel("live", ac)

	oc := apptest.Dial(ctx, t, offline)
	countStatuses(ctx, t, "on connect", oc, ids)
	expectSentinel("on connect", oc)
}

// countStatuses reads status frames until it has one "delivered" and one
// "read" for each of ids, failing on any repeat, any other message, or a
// "read" told before "delivered".
func countStatuses(ctx context.Context, t *testing.T, what string, c *client.Conn, ids []string) {
	t.Helper()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	told := map[string]map[string]bool{"delivered": {}, "read": {}}
	for range 2 * len(ids) {
		f, err := c.Next(ctx, "status")
		if err != nil {
			t.Fatalf("%s: after %d delivered and %d read: %v", what, len(told["delivered"]), len(told["read"]), err)
		}
		seen, ok := told[f.Status]
		switch {
		case !ok || !want[f.MessageID]:
			t.Fatalf("%s: unexpected status %s of %s", what, f.Status, f.MessageID)
		case seen[f.MessageID]:
			t.Fatalf("%s: %s told twice for %s", what, f.Status, f.MessageID)
		case f.Status == "read" && !told["delivered"][f.MessageID]:
			t.Fatalf("%s: %s told read before delivered", what, f.MessageID)
		}
		seen[f.MessageID] = true
	}
}
