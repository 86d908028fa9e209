package app_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
)

// blockNodes returns the node the blocked user (alice) uses and the one
// the blocker (bob) uses: one embedded server, or two nodes of a cluster
// on PostgreSQL and Redis, so the withheld send is decided on both
// engines and the block crosses nodes.
func blockNodes(t *testing.T, cluster bool) (a, b *apptest.Server) {
	t.Helper()
	if cluster {
		return twoNodes(t)
	}
	srv := apptest.Start(t, apptest.Config(t), nil)
	return srv, srv
}

// TestBlockWithholdsOneToOneMessages: what a blocked user sends in a 1:1
// is acked "sent" to it and reaches its own other devices, but never the
// blocker: not live, not on reconnect, not in history, not in the unread
// count; the blocker's later receipts never turn it "delivered". Unblock
// delivers what comes next and nothing of what came meanwhile. Nothing
// tells the blocked user anything.
func TestBlockWithholdsOneToOneMessages(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cluster bool
	}{{"embedded", false}, {"cluster", true}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			na, nb := blockNodes(t, tc.cluster)
			alice, bob := na.NewUser(ctx, "alice"), na.NewUser(ctx, "bob")
			conv, err := alice.API.CreateDirect(ctx, bob.UserID)
			if err != nil {
				t.Fatal(err)
			}
			id := conv.ConversationID
			bobAPI := on(nb, bob)
			ac := served(t, alice.Dial(ctx))
			a2 := served(t, apptest.Dial(ctx, t, alice.NewDevice(ctx))) // alice's other device
			bc := served(t, apptest.Dial(ctx, t, bobAPI))

			first, err := ac.SendMessage(ctx, text("a1", id, "before the block"))
			if err != nil {
				t.Fatal(err)
			}
			if f, err := bc.Next(ctx, "message"); err != nil || f.MessageID != first.MessageID {
				t.Fatalf("bob got %+v, %v; want the first message", f, err)
			}
			if err := bc.Ack(ctx, first.MessageID); err != nil {
				t.Fatal(err)
			}
			if f, err := ac.Next(ctx, "status"); err != nil || f.MessageID != first.MessageID || f.Status != "delivered" {
				t.Fatalf("alice's status frame = %+v, %v; want the first delivered", f, err)
			}

			if err := bobAPI.BlockUser(ctx, alice.UserID); err != nil {
				t.Fatal(err)
			}
			if err := bobAPI.BlockUser(ctx, alice.UserID); err != nil {
				t.Fatalf("blocking again: %v", err)
			}
			if l, err := bobAPI.Blocks(ctx); err != nil || len(l) != 1 || l[0].UserID != alice.UserID || l[0].Username != alice.Username {
				t.Fatalf("bob's blocks = %+v, %v", l, err)
			}

			// Withheld: acked with the next number, echoed to alice's other
			// device, and idempotent like any send.
			held, err := ac.SendMessage(ctx, text("a2", id, "while blocked"))
			if err != nil || held.SequenceNumber != 2 {
				t.Fatalf("send while blocked = %+v, %v; want an ack with sequence number 2", held, err)
			}
			if again, err := ac.SendMessage(ctx, text("a2", id, "while blocked")); err != nil || again != held {
				t.Fatalf("resend = %+v, %v; want %+v", again, err, held)
			}
			if f, err := a2.Next(ctx, "message"); err != nil || f.MessageID != first.MessageID {
				t.Fatalf("alice's other device got %+v, %v; want the first message", f, err)
			}
			if f, err := a2.Next(ctx, "message"); err != nil || f.MessageID != held.MessageID {
				t.Fatalf("alice's other device got %+v, %v; want her withheld message", f, err)
			}
			if h, err := alice.API.Messages(ctx, id, client.HistoryOptions{}); err != nil || len(h) != 2 {
				t.Fatalf("alice's history = %+v, %v; want both her messages", h, err)
			}

			// Bob sees nothing of it, whichever way he looks.
			if h, err := bobAPI.Messages(ctx, id, client.HistoryOptions{}); err != nil || len(h) != 1 || h[0].MessageID != first.MessageID {
				t.Fatalf("bob's history = %+v, %v; want the first message only", h, err)
			}
			list, err := bobAPI.Conversations(ctx)
			if err != nil || len(list) != 1 {
				t.Fatalf("bob's conversations = %+v, %v", list, err)
			}
			if c := list[0]; c.UnreadCount == nil || *c.UnreadCount != 1 || c.LastMessage == nil || c.LastMessage.MessageID != first.MessageID {
				t.Fatalf("bob's list entry: unread %v, last %+v; want the first message alone, unread and last", deref(c.UnreadCount), c.LastMessage)
			}
			if _, err := bobAPI.MessageStatus(ctx, held.MessageID); client.ErrorCode(err) != "not_found" {
				t.Fatalf("bob asking for the withheld message's status: %v, want not_found", err)
			}
			bc.Close()
			bc = served(t, apptest.Dial(ctx, t, bobAPI)) // his queue has nothing

			// Alice learns nothing: the message stays "sent".
			st, err := alice.API.MessageStatus(ctx, held.MessageID)
			if err != nil || st.Status != "sent" {
				t.Fatalf("status of the withheld message = %+v, %v; want sent", st, err)
			}
			if l, err := alice.API.Blocks(ctx); err != nil || len(l) != 0 {
				t.Fatalf("alice's own blocks = %+v, %v", l, err)
			}

			// Unblock: what comes next arrives; what came meanwhile never.
			if err := bobAPI.UnblockUser(ctx, alice.UserID); err != nil {
				t.Fatal(err)
			}
			if l, err := bobAPI.Blocks(ctx); err != nil || len(l) != 0 {
				t.Fatalf("bob's blocks after unblocking = %+v, %v", l, err)
			}
			after, err := ac.SendMessage(ctx, text("a3", id, "after the unblock"))
			if err != nil || after.SequenceNumber != 3 {
				t.Fatalf("send after unblock = %+v, %v", after, err)
			}
			if f, err := bc.Next(ctx, "message"); err != nil || f.MessageID != after.MessageID {
				t.Fatalf("bob's first message after the unblock = %+v, %v; want the third (never the withheld one)", f, err)
			}
			if err := bc.Read(ctx, id, after.MessageID); err != nil {
				t.Fatal(err)
			}
			// Bob's cursors passed the withheld message: alice hears of the
			// first and third only.
			got := map[string]string{}
			for got[after.MessageID] != "read" {
				f, err := ac.Next(ctx, "status")
				if err != nil || f.MessageID == held.MessageID {
					t.Fatalf("alice's status frame = %+v, %v; want none about the withheld message", f, err)
				}
				got[f.MessageID] = f.Status
			}
			if got[first.MessageID] != "read" {
				t.Fatalf("statuses after bob read the third = %v; want the first read too", got)
			}
			if st, err := alice.API.MessageStatus(ctx, held.MessageID); err != nil || st.Status != "sent" {
				t.Fatalf("withheld message after bob read past it = %+v, %v; want sent", st, err)
			}
			h, err := bobAPI.Messages(ctx, id, client.HistoryOptions{})
			if err != nil || len(h) != 2 || h[0].MessageID != first.MessageID || h[1].MessageID != after.MessageID {
				t.Fatalf("bob's history after the unblock = %+v, %v; want the first and third", h, err)
			}
		})
	}
}

// TestBlockHidesPresenceBothWays: a block hides online status, last seen
// and typing from the blocked user, and the blocked user's from the
// blocker; an unblock shows them again, on open connections.
func TestBlockHidesPresenceBothWays(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
	conv, err := alice.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	bc := served(t, bob.Dial(ctx))
	bc.Close() // bob has a last seen
	waitPresence(t, bob, bob.UserID, "offline")
	bc = served(t, bob.Dial(ctx))
	ac := served(t, alice.Dial(ctx))
	if _, err := bc.SendMessage(ctx, text("b1", conv.ConversationID, "hi")); err != nil {
		t.Fatal(err) // bob chose alice: contacts both ways
	}
	if p, err := alice.API.Presence(ctx, bob.UserID); err != nil || p.Status != "online" {
		t.Fatalf("before the block alice sees %+v, %v", p, err)
	}

	if err := bob.API.BlockUser(ctx, alice.UserID); err != nil {
		t.Fatal(err)
	}
	// The block reached alice's connection: her subscription now shows bob
	// offline without a last seen, though he is online (frames from
	// before the block may come first).
	for f := nextPresenceOf(t, ac, bob.UserID); f.Status != "offline"; f = nextPresenceOf(t, ac, bob.UserID) {
	}
	if p, err := alice.API.Presence(ctx, bob.UserID); err != nil || p.Status != "offline" || p.LastSeen != nil {
		t.Fatalf("alice's presence of bob after the block = %+v, %v; want offline, no last seen", p, err)
	}
	for _, tc := range []struct {
		who    *apptest.User
		target string
	}{{alice, bob.UserID}, {bob, alice.UserID}} {
		if p, err := tc.who.API.Presence(ctx, tc.target); err != nil || p.Status != "offline" || p.LastSeen != nil {
			t.Fatalf("%s asking for %s's presence = %+v, %v; want offline, no last seen", tc.who.Username, tc.target, p, err)
		}
	}
	// Typing does not cross a block, either way.
	if err := ac.Typing(ctx, conv.ConversationID, "composing"); err != nil {
		t.Fatal(err)
	}
	served(t, ac) // handled, and relayed if it were to be
	quiet(t, bc, "typing")
	if err := bc.Typing(ctx, conv.ConversationID, "composing"); err != nil {
		t.Fatal(err)
	}
	served(t, bc)
	quiet(t, ac, "typing", "presence")
	// Bob going offline and back tells alice nothing.
	bc.Close()
	bc = served(t, bob.Dial(ctx))
	quiet(t, ac, "presence")

	if err := bob.API.UnblockUser(ctx, alice.UserID); err != nil {
		t.Fatal(err)
	}
	if f := nextPresenceOf(t, ac, bob.UserID); f.Status != "online" {
		t.Fatalf("alice's presence of bob after the unblock = %+v; want online", f)
	}
	if err := ac.Typing(ctx, conv.ConversationID, "composing"); err != nil {
		t.Fatal(err)
	}
	if f, err := bc.Next(ctx, "typing"); err != nil || f.UserID != alice.UserID {
		t.Fatalf("bob after the unblock got %+v, %v; want alice typing", f, err)
	}
}

// TestBlockedUserCannotAddTheBlockerToGroups: creating a group with the
// blocker, or adding it to one, is refused with forbidden and changes
// nothing; the blocker may still add the user it blocks.
func TestBlockedUserCannotAddTheBlockerToGroups(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	alice, bob, carol := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "carol")
	if err := bob.API.BlockUser(ctx, alice.UserID); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.API.CreateGroup(ctx, "trap", []string{carol.UserID, bob.UserID}); client.ErrorCode(err) != "forbidden" {
		t.Fatalf("alice creating a group with bob: %v, want forbidden", err)
	}
	if l, err := carol.API.Conversations(ctx); err != nil || len(l) != 0 {
		t.Fatalf("the refused group exists for carol: %+v, %v", l, err)
	}
	g, err := alice.API.CreateGroup(ctx, "friends", []string{carol.UserID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.API.AddParticipant(ctx, g.ConversationID, bob.UserID); client.ErrorCode(err) != "forbidden" {
		t.Fatalf("alice adding bob: %v, want forbidden", err)
	}
	if p, err := alice.API.Participants(ctx, g.ConversationID); err != nil || len(p) != 2 {
		t.Fatalf("participants after the refused add = %+v, %v", p, err)
	}
	g2, err := bob.API.CreateGroup(ctx, "bob's", []string{alice.UserID})
	if err != nil || len(g2.Participants) != 2 {
		t.Fatalf("bob creating a group with alice = %+v, %v", g2, err)
	}
}

// TestBlockedUserStartingAChatIsNotShown: a blocked user may create a 1:1
// with the blocker (it is told nothing), but the blocker's list does not
// show it while it holds only withheld messages; after an unblock and a
// message it does.
func TestBlockedUserStartingAChatIsNotShown(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	dave, erin := srv.NewUser(ctx, "dave"), srv.NewUser(ctx, "erin")
	if err := dave.API.BlockUser(ctx, erin.UserID); err != nil {
		t.Fatal(err)
	}
	conv, err := erin.API.CreateDirect(ctx, dave.UserID)
	if err != nil {
		t.Fatalf("erin starting a chat with dave: %v; want it created, as for anyone", err)
	}
	ec := served(t, erin.Dial(ctx))
	if _, err := ec.SendMessage(ctx, text("e1", conv.ConversationID, "hello?")); err != nil {
		t.Fatal(err)
	}
	if l, err := dave.API.Conversations(ctx); err != nil || len(l) != 0 {
		t.Fatalf("dave's list = %+v, %v; want erin's chat hidden", l, err)
	}
	if l, err := erin.API.Conversations(ctx); err != nil || len(l) != 1 {
		t.Fatalf("erin's list = %+v, %v; want her chat", l, err)
	}
	if err := dave.API.UnblockUser(ctx, erin.UserID); err != nil {
		t.Fatal(err)
	}
	if l, err := dave.API.Conversations(ctx); err != nil || len(l) != 1 {
		t.Fatalf("dave's list after the unblock = %+v, %v; want erin's chat", l, err)
	}
	if _, err := ec.SendMessage(ctx, text("e2", conv.ConversationID, "now?")); err != nil {
		t.Fatal(err)
	}
	l, err := dave.API.Conversations(ctx)
	if err != nil || len(l) != 1 || l[0].UnreadCount == nil || *l[0].UnreadCount != 1 {
		t.Fatalf("dave's list after erin's next message = %+v, %v; want one unread", l, err)
	}
}

// TestBlockBadInput: the caller itself, an unknown user and no session.
func TestBlockBadInput(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	alice := srv.NewUser(ctx, "alice")
	for _, tc := range []struct {
		name, code string
		err        error
	}{
		{"block oneself", "invalid", alice.API.BlockUser(ctx, alice.UserID)},
		{"unblock oneself", "invalid", alice.API.UnblockUser(ctx, alice.UserID)},
		{"block an unknown user", "not_found", alice.API.BlockUser(ctx, "01JDQ4Z8M1XKZ3V6T9N2B5C7D8")},
		{"unblock an unknown user", "not_found", alice.API.UnblockUser(ctx, "01JDQ4Z8M1XKZ3V6T9N2B5C7D8")},
	} {
		if client.ErrorCode(tc.err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, tc.err, tc.code)
		}
	}
	if l, err := alice.API.Blocks(ctx); err != nil || len(l) != 0 {
		t.Fatalf("blocks after bad input = %+v, %v", l, err)
	}
	anon := srv.Client()
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		path := "/api/v1/users/me/blocks"
		if m != http.MethodGet {
			path += "/" + alice.UserID
		}
		if err := anon.Do(context.Background(), m, path, nil, nil); client.ErrorCode(err) != "unauthorized" {
			t.Errorf("%s %s without a session: %v, want unauthorized", m, path, err)
		}
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
