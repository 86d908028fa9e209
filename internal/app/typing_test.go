package app_test

import (
	"testing"

	"github.com/parleychat/parley/internal/apptest"
)

// TestTypingFloodReachesOthersOnce: a member sending composing as fast as
// it can shows the others one composing frame, not one per frame.
func TestTypingFloodReachesOthersOnce(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	alice, bob, carol := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "carol")
	g, err := alice.API.CreateGroup(ctx, "g", []string{bob.UserID, carol.UserID})
	if err != nil {
		t.Fatal(err)
	}
	ac, bc := alice.Dial(ctx), served(t, bob.Dial(ctx))
	for range 200 {
		if err := ac.Typing(ctx, g.ConversationID, "composing"); err != nil {
			t.Fatal(err)
		}
	}
	// The message is published after every typing frame before it was
	// relayed (one reader per connection): it closes bob's count.
	ack, err := ac.SendMessage(ctx, text("after-flood", g.ConversationID, "hi"))
	if err != nil {
		t.Fatal(err)
	}
	typing := 0
	for {
		f, err := bc.Next(ctx, "typing", "message")
		if err != nil {
			t.Fatal(err)
		}
		if f.Type == "message" && f.MessageID == ack.MessageID {
			break
		}
		if f.Type == "typing" {
			typing++
		}
	}
	if typing != 1 {
		t.Fatalf("bob got %d typing frames for 200 composing frames, want 1", typing)
	}
}
