package app_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/config"
)

// TestPins: any member pins in a 1:1, only admins in a group; at most 3
// pins, in the order pinned; each change is a system message the members
// get live; pinning again or unpinning what is not pinned changes
// nothing; a message of another conversation, an unknown one or a system
// message cannot be pinned.
func TestPins(t *testing.T) {
	bothEngines(t, func(t *testing.T, cfg config.Config) {
		ctx := testCtx(t)
		srv := apptest.Start(t, cfg, nil)
		alice, bob, carol := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "carol")
		g, err := alice.API.CreateGroup(ctx, "g", []string{bob.UserID})
		if err != nil {
			t.Fatal(err)
		}
		ac := served(t, alice.Dial(ctx))
		bc := served(t, bob.Dial(ctx))
		var ids []string
		for i := range 4 {
			ack, err := ac.SendMessage(ctx, text(fmt.Sprint("p", i), g.ConversationID, fmt.Sprint("message ", i)))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, ack.MessageID)
		}
		if _, err := bob.API.Pin(ctx, g.ConversationID, ids[0]); client.ErrorCode(err) != "forbidden" {
			t.Fatalf("a member pinning in a group: %v, want forbidden", err)
		}
		for _, id := range ids[:3] {
			if _, err := alice.API.Pin(ctx, g.ConversationID, id); err != nil {
				t.Fatal(err)
			}
		}
		c, err := alice.API.Pin(ctx, g.ConversationID, ids[1]) // again: no change
		if err != nil || !slices.Equal(c.Pinned, ids[:3]) {
			t.Fatalf("pins = %v, %v; want the first three in order", c.Pinned, err)
		}
		if _, err := alice.API.Pin(ctx, g.ConversationID, ids[3]); client.ErrorCode(err) != "invalid" {
			t.Fatalf("a fourth pin: %v, want invalid", err)
		}
		// Bob heard each pin as it happened, after the messages.
		pins := 0
		for pins < 3 {
			f, err := bc.Next(ctx, "message")
			if err != nil {
				t.Fatal(err)
			}
			if f.MessageType == "system" {
				if !strings.Contains(f.Content, `"pinned"`) {
					t.Fatalf("system message %s, want a pin", f.Content)
				}
				pins++
			}
		}
		if err := alice.API.Unpin(ctx, g.ConversationID, ids[0]); err != nil {
			t.Fatal(err)
		}
		if err := alice.API.Unpin(ctx, g.ConversationID, ids[0]); err != nil {
			t.Fatalf("unpinning again: %v", err)
		}
		got, err := bob.API.Conversation(ctx, g.ConversationID)
		if err != nil || !slices.Equal(got.Pinned, ids[1:3]) {
			t.Fatalf("bob sees pins %v, %v; want the second and third", got.Pinned, err)
		}
		list, err := bob.API.Conversations(ctx)
		if err != nil || len(list) != 1 || !slices.Equal(list[0].Pinned, ids[1:3]) {
			t.Fatalf("bob's list = %+v, %v", list, err)
		}

		// What cannot be pinned.
		direct, err := bob.API.CreateDirect(ctx, carol.UserID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := alice.API.AddParticipant(ctx, g.ConversationID, carol.UserID); err != nil {
			t.Fatal(err)
		}
		h, err := alice.API.Messages(ctx, g.ConversationID, client.HistoryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		system := h[len(h)-1].MessageID
		if _, err := bob.API.Pin(ctx, direct.ConversationID, ids[3]); client.ErrorCode(err) != "not_found" {
			t.Fatalf("pinning another conversation's message: %v, want not_found", err)
		}
		if _, err := alice.API.Pin(ctx, g.ConversationID, system); client.ErrorCode(err) != "not_found" {
			t.Fatalf("pinning a system message: %v, want not_found", err)
		}
		bm, err := served(t, bob.Dial(ctx)).SendMessage(ctx, text("d1", direct.ConversationID, "hi carol"))
		if err != nil {
			t.Fatal(err)
		}
		if c, err := carol.API.Pin(ctx, direct.ConversationID, bm.MessageID); err != nil || !slices.Equal(c.Pinned, []string{bm.MessageID}) {
			t.Fatalf("a member pinning in a 1:1 = %+v, %v", c.Pinned, err)
		}
		if _, err := carol.API.Pin(ctx, direct.ConversationID, "01JD3Y8A1B2C3D4E5F6G7H8J9K"); client.ErrorCode(err) != "not_found" {
			t.Fatalf("pinning an unknown message: %v, want not_found", err)
		}
	})
}
