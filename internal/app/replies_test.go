package app_test

import (
	"strings"
	"testing"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/config"
)

// TestReplies: a reply is delivered live, from the offline queue and in
// history with reply_to and a quote of the message it answers (its
// sender, type and first 200 bytes, cut on a character); a resend of its
// key answers the same ack. A reply_to that names nothing the sender may
// answer — unknown, another conversation's, a message from before the
// sender joined, a system message — is refused with invalid and stores
// nothing (no number taken).
func TestReplies(t *testing.T) {
	bothEngines(t, func(t *testing.T, cfg config.Config) {
		ctx := testCtx(t)
		srv := apptest.Start(t, cfg, nil)
		alice, bob, carol := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "carol")
		direct, err := alice.API.CreateDirect(ctx, bob.UserID)
		if err != nil {
			t.Fatal(err)
		}
		ac := served(t, alice.Dial(ctx))
		long := strings.Repeat("a", 199) + "é and more" // the 200-byte cut falls inside é
		orig, err := ac.SendMessage(ctx, text("o1", direct.ConversationID, long))
		if err != nil {
			t.Fatal(err)
		}

		// Bob is offline: the reply reaches Alice live, Bob from his queue.
		bc := bob.Dial(ctx)
		if _, err := bc.Next(ctx, "message"); err != nil {
			t.Fatal(err)
		}
		reply := client.OutgoingMessage{ClientMessageID: "r1", ConversationID: direct.ConversationID,
			MessageType: "text", Content: "agreed", ReplyTo: orig.MessageID}
		ack, err := bc.SendMessage(ctx, reply)
		if err != nil {
			t.Fatal(err)
		}
		if again, err := bc.SendMessage(ctx, reply); err != nil || again != ack {
			t.Fatalf("resend of the reply = %+v, %v; want %+v", again, err, ack)
		}
		wantQuote := func(what string, replyTo string, q *client.Quote) {
			t.Helper()
			if replyTo != orig.MessageID || q == nil || q.SenderID != alice.UserID || q.MessageType != "text" ||
				q.Content != strings.Repeat("a", 199) {
				t.Fatalf("%s: reply_to %q, quote %+v; want alice's message, its first 199 bytes", what, replyTo, q)
			}
		}
		f, err := ac.Next(ctx, "message")
		if err != nil || f.MessageID != ack.MessageID {
			t.Fatalf("alice got %+v, %v", f, err)
		}
		wantQuote("live", f.ReplyTo, f.Quote)
		h, err := alice.API.Messages(ctx, direct.ConversationID, client.HistoryOptions{})
		if err != nil || len(h) != 2 {
			t.Fatalf("history = %+v, %v", h, err)
		}
		wantQuote("history", h[1].ReplyTo, h[1].Quote)
		if h[0].ReplyTo != "" || h[0].Quote != nil {
			t.Fatalf("the original carries a quote: %+v", h[0])
		}
		// Bob offline: alice's reply to his reply reaches him from his queue.
		bc.Close()
		back, err := ac.SendMessage(ctx, client.OutgoingMessage{ClientMessageID: "r2", ConversationID: direct.ConversationID,
			MessageType: "text", Content: "good", ReplyTo: ack.MessageID})
		if err != nil {
			t.Fatal(err)
		}
		bc = bob.Dial(ctx)
		for f.MessageID != back.MessageID {
			if f, err = bc.Next(ctx, "message"); err != nil {
				t.Fatal(err)
			}
		}
		if f.ReplyTo != ack.MessageID || f.Quote == nil || f.Quote.SenderID != bob.UserID || f.Quote.Content != "agreed" {
			t.Fatalf("from the queue: %+v; want a reply quoting bob's", f)
		}

		// Refusals: nothing stored, no number taken.
		g, err := alice.API.CreateGroup(ctx, "g", []string{bob.UserID})
		if err != nil {
			t.Fatal(err)
		}
		early, err := ac.SendMessage(ctx, text("g1", g.ConversationID, "before carol"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := alice.API.AddParticipant(ctx, g.ConversationID, carol.UserID); err != nil {
			t.Fatal(err)
		}
		system, err := alice.API.Messages(ctx, g.ConversationID, client.HistoryOptions{})
		if err != nil || len(system) != 2 || system[1].MessageType != "system" {
			t.Fatalf("group history = %+v, %v", system, err)
		}
		cc := served(t, carol.Dial(ctx))
		for _, tc := range []struct {
			name string
			c    *client.Conn
			conv string
			to   string
		}{
			{"an unknown message", ac, direct.ConversationID, "01JD3Y8A1B2C3D4E5F6G7H8J9K"},
			{"another conversation's message", ac, g.ConversationID, orig.MessageID},
			{"a message from before the sender joined", cc, g.ConversationID, early.MessageID},
			{"a system message", cc, g.ConversationID, system[1].MessageID},
		} {
			_, err := tc.c.SendMessage(ctx, client.OutgoingMessage{ClientMessageID: "bad-" + tc.name, ConversationID: tc.conv,
				MessageType: "text", Content: "x", ReplyTo: tc.to})
			if client.ErrorCode(err) != "invalid" {
				t.Errorf("reply to %s: %v, want invalid", tc.name, err)
			}
		}
		next, err := ac.SendMessage(ctx, text("o2", direct.ConversationID, "still counting"))
		if err != nil || next.SequenceNumber != 4 {
			t.Fatalf("the next message after the refusals = %+v, %v; want number 4", next, err)
		}
	})
}
