package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/wire"
)

// nextUpdate returns the next reaction, message_edited, message_deleted
// or error frame.
func nextUpdate(ctx context.Context, t *testing.T, c *client.Conn) client.Frame {
	t.Helper()
	f, err := c.Next(ctx, wire.TypeReaction, wire.TypeMessageEdited, wire.TypeMessageDeleted, wire.TypeError)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// await skips frames until one of typ about messageID passes check: a
// device that reconnects may be told again what it was told before its
// old connection saved its cursor (frames are idempotent).
func await(ctx context.Context, t *testing.T, c *client.Conn, typ, messageID string, check func(f client.Frame) bool, what string) {
	t.Helper()
	for {
		f, err := c.Next(ctx, typ)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if f.MessageID == messageID && (check == nil || check(f)) {
			return
		}
	}
}

func wantFrame(t *testing.T, f client.Frame, typ, messageID string, check func(f client.Frame) bool, what string) {
	t.Helper()
	if f.Type != typ || f.MessageID != messageID || (check != nil && !check(f)) {
		t.Fatalf("%s: got %s", what, f.Raw)
	}
}

func historyOf(ctx context.Context, t *testing.T, c *client.Client, conv string) map[string]client.Message {
	t.Helper()
	h, err := c.Messages(ctx, conv, client.HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]client.Message{}
	for _, m := range h {
		out[m.MessageID] = m
	}
	return out
}

// TestReactionsAndEdits: a reaction set, changed and removed, and an edit,
// reach the other member's device live and the actor's own device (its
// confirmation); history counts reactions and shows the edit; bad ones
// are refused with an error frame naming the message and change nothing.
func TestReactionsAndEdits(t *testing.T) {
	bothEngines(t, func(t *testing.T, cfg config.Config) {
		ctx := testCtx(t)
		clk := clock.NewFake(time.UnixMilli(1_790_000_000_000))
		srv := apptest.Start(t, cfg, clk)
		alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
		conv, err := alice.API.CreateDirect(ctx, bob.UserID)
		if err != nil {
			t.Fatal(err)
		}
		ac, bc := served(t, alice.Dial(ctx)), served(t, bob.Dial(ctx))
		ack, err := ac.SendMessage(ctx, text("m1", conv.ConversationID, "helo"))
		if err != nil {
			t.Fatal(err)
		}
		m1 := ack.MessageID

		for _, emoji := range []string{"👍", "❤️", ""} {
			if err := bc.React(ctx, m1, emoji); err != nil {
				t.Fatal(err)
			}
			isEmoji := func(f client.Frame) bool { return f.Emoji == emoji && f.UserID == bob.UserID }
			wantFrame(t, nextUpdate(ctx, t, ac), wire.TypeReaction, m1, isEmoji, "alice told of bob's reaction "+emoji)
			wantFrame(t, nextUpdate(ctx, t, bc), wire.TypeReaction, m1, isEmoji, "bob's own device told of "+emoji)
		}
		if err := bc.React(ctx, m1, "🎉"); err != nil {
			t.Fatal(err)
		}
		wantFrame(t, nextUpdate(ctx, t, ac), wire.TypeReaction, m1, nil, "alice told of 🎉")
		if err := bc.Send(ctx, map[string]string{"type": "reaction", "message_id": m1, "emoji": "ok"}); err != nil {
			t.Fatal(err)
		}
		wantFrame(t, nextUpdate(ctx, t, bc), wire.TypeReaction, m1, nil, "bob's echo of 🎉")
		f := nextUpdate(ctx, t, bc)
		if f.Type != wire.TypeError || f.Code != wire.CodeInvalid {
			t.Fatalf("a reaction of a word: %s, want invalid", f.Raw)
		}
		// The same reaction again changes nothing: only the acting device
		// hears that it holds; alice hears nothing until a real change.
		if err := bc.React(ctx, m1, "🎉"); err != nil {
			t.Fatal(err)
		}
		wantFrame(t, nextUpdate(ctx, t, bc), wire.TypeReaction, m1, func(f client.Frame) bool { return f.Emoji == "🎉" }, "bob's confirmation of an unchanged reaction")
		if err := bc.React(ctx, m1, "🎊"); err != nil {
			t.Fatal(err)
		}
		wantFrame(t, nextUpdate(ctx, t, ac), wire.TypeReaction, m1, func(f client.Frame) bool { return f.Emoji == "🎊" }, "alice told of the next real change, nothing before it")
		wantFrame(t, nextUpdate(ctx, t, bc), wire.TypeReaction, m1, nil, "bob's echo of 🎊")
		if err := bc.React(ctx, m1, "🎉"); err != nil {
			t.Fatal(err)
		}
		wantFrame(t, nextUpdate(ctx, t, ac), wire.TypeReaction, m1, func(f client.Frame) bool { return f.Emoji == "🎉" }, "alice told of 🎉 again")
		wantFrame(t, nextUpdate(ctx, t, bc), wire.TypeReaction, m1, nil, "bob's echo of 🎉")

		// Only the sender edits, only text, only within the window.
		if err := bc.Edit(ctx, m1, "hijacked"); err != nil {
			t.Fatal(err)
		}
		wantFrame(t, nextUpdate(ctx, t, bc), wire.TypeError, m1, func(f client.Frame) bool {
			return f.Code == wire.CodeForbidden && f.RefusedType == wire.TypeEdit
		}, "bob editing alice's message")
		// Moving the clock times out the connections: dial again.
		clk.Advance(14 * time.Minute)
		ac, bc = served(t, alice.Dial(ctx)), served(t, bob.Dial(ctx))
		if err := ac.Edit(ctx, m1, "hello"); err != nil {
			t.Fatal(err)
		}
		edited := func(f client.Frame) bool { return f.Content == "hello" && f.EditedAt == clock.Millis(clk.Now()) }
		await(ctx, t, bc, wire.TypeMessageEdited, m1, edited, "bob told of the edit")
		await(ctx, t, ac, wire.TypeMessageEdited, m1, edited, "alice's own device told of the edit")
		clk.Advance(2 * time.Minute)
		ac, bc = served(t, alice.Dial(ctx)), served(t, bob.Dial(ctx))
		if err := ac.Edit(ctx, m1, "too late"); err != nil {
			t.Fatal(err)
		}
		await(ctx, t, ac, wire.TypeError, m1, func(f client.Frame) bool { return f.Code == wire.CodeForbidden }, "an edit past 15 minutes")
		if err := ac.Edit(ctx, "01JD3Y8A1B2C3D4E5F6G7H8J9K", "x"); err != nil {
			t.Fatal(err)
		}
		await(ctx, t, ac, wire.TypeError, "01JD3Y8A1B2C3D4E5F6G7H8J9K", func(f client.Frame) bool { return f.Code == wire.CodeNotFound }, "an edit of an unknown message")

		for _, c := range []*client.Client{alice.API, bob.API} {
			m := historyOf(ctx, t, c, conv.ConversationID)[m1]
			if m.Content != "hello" || m.EditedAt == 0 || len(m.Reactions) != 1 || m.Reactions[0].Emoji != "🎉" ||
				m.Reactions[0].Count != 1 || m.Reactions[0].UserIDs[0] != bob.UserID {
				t.Fatalf("history shows %+v", m)
			}
		}

		// A device that was away catches up on connect, after its queue.
		bc.Close()
		if err := ac.React(ctx, m1, "😂"); err != nil {
			t.Fatal(err)
		}
		await(ctx, t, ac, wire.TypeReaction, m1, nil, "alice's echo")
		bc = bob.Dial(ctx)
		await(ctx, t, bc, wire.TypeReaction, m1, func(f client.Frame) bool { return f.Emoji == "😂" && f.UserID == alice.UserID }, "bob catching up on alice's reaction")
		if err := ac.React(ctx, m1, "🔥"); err != nil {
			t.Fatal(err)
		}
		await(ctx, t, bc, wire.TypeReaction, m1, func(f client.Frame) bool { return f.Emoji == "🔥" }, "bob, reconnected, gets the new reaction live")
	})
}

// TestDeletes: delete for everyone erases the content everywhere — a
// device that was offline finds a tombstone in its queue, never the
// content, and is told of the deletion; delete for me hides a message
// from the user's own devices alone; in a group an admin deletes any
// member's message, a member only its own within 48 hours; a removed
// member is told nothing after its removal.
func TestDeletes(t *testing.T) {
	bothEngines(t, func(t *testing.T, cfg config.Config) {
		ctx := testCtx(t)
		clk := clock.NewFake(time.UnixMilli(1_790_000_000_000))
		srv := apptest.Start(t, cfg, clk)
		alice, bob, carol := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "carol")
		conv, err := alice.API.CreateDirect(ctx, bob.UserID)
		if err != nil {
			t.Fatal(err)
		}
		ac := served(t, alice.Dial(ctx))
		kept, err := ac.SendMessage(ctx, text("k", conv.ConversationID, "keep me"))
		if err != nil {
			t.Fatal(err)
		}
		gone, err := ac.SendMessage(ctx, text("g", conv.ConversationID, "wrong chat"))
		if err != nil {
			t.Fatal(err)
		}
		// Bob is offline: both messages wait in his queue.
		if err := ac.Delete(ctx, gone.MessageID, wire.DeleteForEveryone); err != nil {
			t.Fatal(err)
		}
		wantFrame(t, nextUpdate(ctx, t, ac), wire.TypeMessageDeleted, gone.MessageID, func(f client.Frame) bool {
			return f.For == wire.DeleteForEveryone && f.DeletedBy == alice.UserID
		}, "alice's device told of her deletion")
		if err := ac.Edit(ctx, gone.MessageID, "again"); err != nil {
			t.Fatal(err)
		}
		wantFrame(t, nextUpdate(ctx, t, ac), wire.TypeError, gone.MessageID, func(f client.Frame) bool { return f.Code == wire.CodeInvalid }, "an edit of a tombstone")

		bc := bob.Dial(ctx)
		var got []client.Frame
		for len(got) < 2 {
			f, err := bc.Next(ctx, wire.TypeMessage)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, f)
		}
		if got[0].Content != "keep me" || got[1].MessageID != gone.MessageID || !got[1].Deleted || got[1].Content != "" {
			t.Fatalf("bob's queue: %s, %s; want the kept message, then a tombstone", got[0].Raw, got[1].Raw)
		}
		wantFrame(t, nextUpdate(ctx, t, bc), wire.TypeMessageDeleted, gone.MessageID, nil, "bob told of the deletion on connect")
		h := historyOf(ctx, t, bob.API, conv.ConversationID)
		if m := h[gone.MessageID]; !m.Deleted || m.Content != "" {
			t.Fatalf("history shows %+v, want a tombstone", m)
		}

		// Delete for me: bob's devices alone, and his unread count.
		unread := func() int64 {
			t.Helper()
			list, err := bob.API.Conversations(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range list {
				if c.ConversationID == conv.ConversationID && c.UnreadCount != nil {
					return *c.UnreadCount
				}
			}
			t.Fatal("bob's list lacks the conversation")
			return 0
		}
		before := unread()
		if err := bc.Delete(ctx, kept.MessageID, wire.DeleteForMe); err != nil {
			t.Fatal(err)
		}
		wantFrame(t, nextUpdate(ctx, t, bc), wire.TypeMessageDeleted, kept.MessageID, func(f client.Frame) bool { return f.For == wire.DeleteForMe }, "bob's device hides it")
		if after := unread(); after != before-1 {
			t.Fatalf("bob's unread count %d after deleting an unread message for himself, want %d", after, before-1)
		}
		if _, ok := historyOf(ctx, t, bob.API, conv.ConversationID)[kept.MessageID]; ok {
			t.Fatal("bob's history still shows what he deleted for himself")
		}
		if m, ok := historyOf(ctx, t, alice.API, conv.ConversationID)[kept.MessageID]; !ok || m.Content != "keep me" {
			t.Fatalf("alice's history lost bob's private deletion: %+v", m)
		}
		if err := bc.Delete(ctx, kept.MessageID, wire.DeleteForEveryone); err != nil {
			t.Fatal(err)
		}
		wantFrame(t, nextUpdate(ctx, t, bc), wire.TypeError, kept.MessageID, func(f client.Frame) bool { return f.Code == wire.CodeNotFound }, "deleting for everyone what one hid")

		// Groups: an admin moderates at any age; members their own within
		// 48 hours.
		g, err := alice.API.CreateGroup(ctx, "g", []string{bob.UserID, carol.UserID})
		if err != nil {
			t.Fatal(err)
		}
		cc := served(t, carol.Dial(ctx))
		cm, err := cc.SendMessage(ctx, text("c1", g.ConversationID, "carol's"))
		if err != nil {
			t.Fatal(err)
		}
		bm, err := bc.SendMessage(ctx, text("b1", g.ConversationID, "bob's"))
		if err != nil {
			t.Fatal(err)
		}
		if err := bc.Delete(ctx, cm.MessageID, wire.DeleteForEveryone); err != nil {
			t.Fatal(err)
		}
		wantFrame(t, nextUpdate(ctx, t, bc), wire.TypeError, cm.MessageID, func(f client.Frame) bool { return f.Code == wire.CodeForbidden }, "a member deleting another's message")
		clk.Advance(49 * time.Hour)
		ac, bc, cc = served(t, alice.Dial(ctx)), served(t, bob.Dial(ctx)), served(t, carol.Dial(ctx))
		if err := bc.Delete(ctx, bm.MessageID, wire.DeleteForEveryone); err != nil {
			t.Fatal(err)
		}
		await(ctx, t, bc, wire.TypeError, bm.MessageID, func(f client.Frame) bool { return f.Code == wire.CodeForbidden }, "deleting one's own message after 48 hours")
		if err := ac.Delete(ctx, cm.MessageID, wire.DeleteForEveryone); err != nil {
			t.Fatal(err)
		}
		for _, c := range []*client.Conn{cc, bc} {
			await(ctx, t, c, wire.TypeMessageDeleted, cm.MessageID, func(f client.Frame) bool { return f.DeletedBy == alice.UserID }, "members told of the admin's deletion")
		}

		// A removed member is told nothing after its removal.
		if err := alice.API.RemoveParticipant(ctx, g.ConversationID, carol.UserID); err != nil {
			t.Fatal(err)
		}
		if err := ac.React(ctx, bm.MessageID, "👍"); err != nil {
			t.Fatal(err)
		}
		await(ctx, t, bc, wire.TypeReaction, bm.MessageID, nil, "bob told of the reaction")
		if err := cc.React(ctx, bm.MessageID, "👎"); err != nil {
			t.Fatal(err)
		}
		for {
			f := nextUpdate(ctx, t, cc)
			if f.Type == wire.TypeError {
				if f.Code != wire.CodeForbidden {
					t.Fatalf("a removed member reacting: %s, want forbidden", f.Raw)
				}
				break
			}
			if f.Type == wire.TypeReaction {
				t.Fatalf("a removed member told of a reaction after its removal: %s", f.Raw)
			}
		}
		// Nor on reconnect.
		cc.Close()
		cc = carol.Dial(ctx)
		for _, f := range untilServed(t, ctx, cc) {
			if f.Type == wire.TypeReaction {
				t.Fatalf("a removed member told on reconnect of a reaction after its removal: %s", f.Raw)
			}
		}
	})
}

// TestClusterUpdatesAcrossNodes: a reaction, an edit and a deletion made
// on one node reach a device on the other live, in order.
func TestClusterUpdatesAcrossNodes(t *testing.T) {
	ctx := testCtx(t)
	na, nb := twoNodes(t)
	alice, bob := na.NewUser(ctx, "alice"), na.NewUser(ctx, "bob")
	conv, err := alice.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	ac := served(t, alice.Dial(ctx))                   // node A
	bc := served(t, apptest.Dial(ctx, t, on(nb, bob))) // node B
	ack, err := ac.SendMessage(ctx, text("x1", conv.ConversationID, "across"))
	if err != nil {
		t.Fatal(err)
	}
	if err := bc.React(ctx, ack.MessageID, "👍"); err != nil {
		t.Fatal(err)
	}
	await(ctx, t, ac, wire.TypeReaction, ack.MessageID, func(f client.Frame) bool { return f.Emoji == "👍" }, "alice on A told of bob's reaction on B")
	if err := ac.Edit(ctx, ack.MessageID, "over there"); err != nil {
		t.Fatal(err)
	}
	if err := ac.Delete(ctx, ack.MessageID, wire.DeleteForEveryone); err != nil {
		t.Fatal(err)
	}
	wantFrame(t, nextUpdate(ctx, t, bc), wire.TypeReaction, ack.MessageID, nil, "bob's own reaction")
	wantFrame(t, nextUpdate(ctx, t, bc), wire.TypeMessageEdited, ack.MessageID, func(f client.Frame) bool { return f.Content == "over there" }, "bob on B told of the edit")
	wantFrame(t, nextUpdate(ctx, t, bc), wire.TypeMessageDeleted, ack.MessageID, nil, "bob on B told of the deletion")
}

// TestBlockedReactions: the reactions of a user one blocks are not shown:
// not live, not in history; the blocked user sees its own.
func TestBlockedReactions(t *testing.T) {
	bothEngines(t, func(t *testing.T, cfg config.Config) {
		ctx := testCtx(t)
		srv := apptest.Start(t, cfg, nil)
		alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
		conv, err := alice.API.CreateDirect(ctx, bob.UserID)
		if err != nil {
			t.Fatal(err)
		}
		ac, bc := served(t, alice.Dial(ctx)), served(t, bob.Dial(ctx))
		ack, err := bc.SendMessage(ctx, text("b1", conv.ConversationID, "before the block"))
		if err != nil {
			t.Fatal(err)
		}
		if err := bob.API.BlockUser(ctx, alice.UserID); err != nil {
			t.Fatal(err)
		}
		if err := ac.React(ctx, ack.MessageID, "👎"); err != nil {
			t.Fatal(err)
		}
		await(ctx, t, ac, wire.TypeReaction, ack.MessageID, nil, "alice's own echo")
		if err := bc.React(ctx, ack.MessageID, "👍"); err != nil {
			t.Fatal(err)
		}
		if f := nextUpdate(ctx, t, bc); f.UserID != bob.UserID {
			t.Fatalf("bob was told of a blocked user's reaction: %s", f.Raw)
		}
		m := historyOf(ctx, t, bob.API, conv.ConversationID)[ack.MessageID]
		if len(m.Reactions) != 1 || m.Reactions[0].Emoji != "👍" {
			t.Fatalf("bob's history shows reactions %+v, want his own alone", m.Reactions)
		}
		if m := historyOf(ctx, t, alice.API, conv.ConversationID)[ack.MessageID]; len(m.Reactions) != 2 {
			t.Fatalf("alice's history shows reactions %+v, want both", m.Reactions)
		}
	})
}

// TestDisappearedUpdatesUntold: a change of a disappearing message is not
// told once the message has disappeared, and it cannot be changed then.
func TestDisappearedUpdatesUntold(t *testing.T) {
	ctx := testCtx(t)
	clk := clock.NewFake(time.UnixMilli(1_790_000_000_000))
	srv := apptest.Start(t, apptest.Config(t), clk)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
	conv, err := alice.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.API.SetDisappearing(ctx, conv.ConversationID, 86400); err != nil {
		t.Fatal(err)
	}
	ac := served(t, alice.Dial(ctx))
	ack, err := ac.SendMessage(ctx, text("d1", conv.ConversationID, "soon gone"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ac.Edit(ctx, ack.MessageID, "secret edit"); err != nil {
		t.Fatal(err)
	}
	await(ctx, t, ac, wire.TypeMessageEdited, ack.MessageID, nil, "alice's edit")
	// Bob was offline throughout; the message disappears before he comes.
	clk.Advance(25 * time.Hour)
	bc := bob.Dial(ctx)
	for _, f := range untilServed(t, ctx, bc) {
		if f.MessageID == ack.MessageID {
			t.Fatalf("bob was told of a disappeared message: %s", f.Raw)
		}
	}
	ac = served(t, alice.Dial(ctx))
	if err := ac.React(ctx, ack.MessageID, "👍"); err != nil {
		t.Fatal(err)
	}
	await(ctx, t, ac, wire.TypeError, ack.MessageID, func(f client.Frame) bool { return f.Code == wire.CodeNotFound }, "reacting to a disappeared message")
}
