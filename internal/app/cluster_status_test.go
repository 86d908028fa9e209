package app_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
)

// TestClusterStatusesCrossNodes: every status of a receipt committed on one
// node reaches the sender on the other.
func TestClusterStatusesCrossNodes(t *testing.T) {
	ctx := testCtx(t)
	na, nb := twoNodes(t)
	alice, bob := na.NewUser(ctx, "alice"), na.NewUser(ctx, "bob")
	conv, _ := alice.API.CreateDirect(ctx, bob.UserID)
	ac := alice.Dial(ctx)
	bc := apptest.Dial(ctx, t, on(nb, bob))
	var ids []string
	for round := range 3 {
		for i := range 5 {
			a, err := ac.SendMessage(ctx, text(fmt.Sprint(round, "-", i), conv.ConversationID, "x"))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, a.MessageID)
		}
		var got []string
		for range 5 {
			f, err := bc.Next(ctx, "message")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, f.MessageID)
		}
		if err := bc.Ack(ctx, got...); err != nil {
			t.Fatal(err)
		}
		if err := bc.Read(ctx, conv.ConversationID, got...); err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for range 10 {
			f, err := ac.Next(ctx, "status")
			if err != nil {
				t.Fatalf("round %d, after %v: %v", round, seen, err)
			}
			seen[f.Status]++
		}
		if seen["delivered"] != 5 || seen["read"] != 5 {
			t.Fatalf("round %d: %v", round, seen)
		}
	}
}

// TestClusterResubscribeAfterEmpty: when every user of a node has left (its
// Redis subscription set is empty) and one comes back, events from the
// other node reach it again. (Found by the cluster benchmark.)
func TestClusterResubscribeAfterEmpty(t *testing.T) {
	ctx := testCtx(t)
	na, nb := twoNodes(t)
	alice, bob := na.NewUser(ctx, "alice"), na.NewUser(ctx, "bob")
	conv, _ := alice.API.CreateDirect(ctx, bob.UserID)
	for round := range 3 {
		ac := alice.Dial(ctx)
		bc := apptest.Dial(ctx, t, on(nb, bob))
		if err := ac.Heartbeat(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := ac.Next(ctx, "heartbeat_ack"); err != nil {
			t.Fatal(err)
		}
		ack, err := bc.SendMessage(ctx, text(fmt.Sprint("r", round), conv.ConversationID, "x"))
		if err != nil {
			t.Fatal(err)
		}
		if f, err := ac.Next(ctx, "message"); err != nil || f.MessageID != ack.MessageID {
			t.Fatalf("round %d: alice on A got %+v, %v", round, f, err)
		}
		if err := ac.Ack(ctx, ack.MessageID); err != nil {
			t.Fatal(err)
		}
		ac.Close()
		bc.Close()
		waitPresence(t, bob, alice.UserID, "offline")
		waitPresence(t, alice, bob.UserID, "offline")
	}
}

// TestClusterReceiptsOfOneUserOnTwoNodes: a recipient's two devices, one
// on each node, acknowledge and read the same messages at once. Both nodes'
// committers move the same member cursors; each holds the member's row
// while it decides, so the sender is told each change exactly once.
func TestClusterReceiptsOfOneUserOnTwoNodes(t *testing.T) {
	ctx := testCtx(t)
	na, nb := twoNodes(t)
	alice, bob := na.NewUser(ctx, "alice"), na.NewUser(ctx, "bob")
	conv, _ := alice.API.CreateDirect(ctx, bob.UserID)
	ac := alice.Dial(ctx)
	b1 := bob.Dial(ctx)
	b2 := apptest.Dial(ctx, t, bob.NewDeviceOn(ctx, nb))
	const n = 50
	var ids []string
	for i := range n {
		a, err := ac.SendMessage(ctx, text(fmt.Sprint("m", i), conv.ConversationID, "x"))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.MessageID)
	}
	for _, c := range []*client.Conn{b1, b2} {
		for range n {
			if _, err := c.Next(ctx, "message"); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Both devices ack and read every message, one frame each, at once.
	var wg sync.WaitGroup
	for _, c := range []*client.Conn{b1, b2} {
		wg.Go(func() {
			for _, id := range ids {
				if err := c.Ack(ctx, id); err != nil {
					t.Error(err)
				}
				if err := c.Read(ctx, conv.ConversationID, id); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	countStatuses(ctx, t, "sender on node A", ac, ids)
	// A sentinel: the next status is a later message's, nothing repeated.
	last, err := ac.SendMessage(ctx, text("sentinel", conv.ConversationID, "x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b1.Next(ctx, "message"); err != nil {
		t.Fatal(err)
	}
	if err := b1.Ack(ctx, last.MessageID); err != nil {
		t.Fatal(err)
	}
	f, err := ac.Next(ctx, "status")
	if err != nil {
		t.Fatal(err)
	}
	if f.MessageID != last.MessageID {
		t.Fatalf("after the %d statuses: %s of %s; want the sentinel's", 2*n, f.Status, f.MessageID)
	}
}
