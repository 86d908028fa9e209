package app_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// pair starts a server with two users who share a 1:1 conversation.
func pair(t *testing.T) (*apptest.Server, *apptest.User, *apptest.User, client.Conversation) {
	t.Helper()
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
	conv, err := alice.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatalf("create conversation: %v", err)
	}
	return srv, alice, bob, conv
}

func text(cmid, conv, content string) client.OutgoingMessage {
	return client.OutgoingMessage{ClientMessageID: cmid, ConversationID: conv, MessageType: "text", Content: content}
}

func TestFullOneToOneFlow(t *testing.T) {
	ctx := testCtx(t)
	_, alice, bob, conv := pair(t)
	ac, bc := alice.Dial(ctx), bob.Dial(ctx)

	ack, err := ac.SendMessage(ctx, text("c1", conv.ConversationID, "hello bob"))
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	if ack.SequenceNumber != 1 || ack.MessageID == "" || ack.ConversationID != conv.ConversationID || ack.Timestamp == 0 {
		t.Fatalf("ack = %+v", ack)
	}

	got, err := bc.Next(ctx, "message")
	if err != nil {
		t.Fatalf("bob receives: %v", err)
	}
	if got.MessageID != ack.MessageID || got.Content != "hello bob" || got.SenderID != alice.UserID ||
		got.SequenceNumber != 1 || got.MessageType != "text" || got.CreatedAt != ack.Timestamp {
		t.Fatalf("bob got %+v, want message %s", got, ack.MessageID)
	}

	st, err := alice.API.MessageStatus(ctx, ack.MessageID)
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	if len(st.Recipients) != 1 || st.Recipients[0].UserID != bob.UserID || st.Recipients[0].Status != "sent" {
		t.Fatalf("status before ack = %+v", st)
	}

	if err := bc.Ack(ctx, ack.MessageID); err != nil {
		t.Fatal(err)
	}
	f, err := ac.Next(ctx, "status")
	if err != nil {
		t.Fatalf("alice status: %v", err)
	}
	if f.MessageID != ack.MessageID || f.UserID != bob.UserID || f.Status != "delivered" || f.ConversationID != conv.ConversationID {
		t.Fatalf("status frame = %+v", f)
	}

	if err := bc.Read(ctx, conv.ConversationID, ack.MessageID); err != nil {
		t.Fatal(err)
	}
	f, err = ac.Next(ctx, "status")
	if err != nil {
		t.Fatalf("alice read status: %v", err)
	}
	if f.MessageID != ack.MessageID || f.Status != "read" || f.Timestamp == 0 {
		t.Fatalf("read frame = %+v", f)
	}
	st, err = alice.API.MessageStatus(ctx, ack.MessageID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Recipients[0].Status != "read" || st.Recipients[0].UpdatedAt != f.Timestamp {
		t.Fatalf("status after read = %+v (frame %+v)", st, f)
	}

	// Only the sender sees receipts.
	if _, err := bob.API.MessageStatus(ctx, ack.MessageID); client.ErrorCode(err) != "forbidden" {
		t.Fatalf("bob reading alice's receipts: %v, want forbidden", err)
	}

	// History and the conversation list agree.
	hist, err := bob.API.Messages(ctx, conv.ConversationID, client.HistoryOptions{})
	if err != nil || len(hist) != 1 || hist[0].MessageID != ack.MessageID {
		t.Fatalf("history = %+v, %v", hist, err)
	}
	list, err := bob.API.Conversations(ctx)
	if err != nil || len(list) != 1 || list[0].LastMessage == nil || list[0].LastMessage.MessageID != ack.MessageID || (list[0].UnreadCount == nil || *list[0].UnreadCount != 0) {
		t.Fatalf("list = %+v, %v", list, err)
	}
}

func TestReceiptsReachOfflineSenderOnConnect(t *testing.T) {
	ctx := testCtx(t)
	_, alice, bob, conv := pair(t)
	ac := alice.Dial(ctx)
	ack, err := ac.SendMessage(ctx, text("r1", conv.ConversationID, "are you there"))
	if err != nil {
		t.Fatal(err)
	}
	ac.Close()

	bc := bob.Dial(ctx)
	m, err := bc.Next(ctx, "message")
	if err != nil {
		t.Fatal(err)
	}
	if err := bc.Read(ctx, conv.ConversationID, m.MessageID); err != nil {
		t.Fatal(err)
	}
	// Wait for the read to commit before alice comes back.
	waitStatus(t, alice, ack.MessageID, "read")

	ac = alice.Dial(ctx)
	f, err := ac.Next(ctx, "status")
	if err != nil {
		t.Fatalf("alice gets the missed receipt: %v", err)
	}
	if f.MessageID != ack.MessageID || f.Status != "read" || f.UserID != bob.UserID {
		t.Fatalf("status frame = %+v", f)
	}
	// It is told once: a second connect brings nothing new.
	ac.Close()
	waitPresence(t, bob, alice.UserID, "offline")
	ac = alice.Dial(ctx)
	if err := ac.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	f, err = ac.Next(ctx, "status", "message", "heartbeat_ack")
	if err != nil || f.Type != "heartbeat_ack" {
		t.Fatalf("after reconnect got %+v, %v; want only heartbeat_ack", f, err)
	}
}

// waitPresence polls (as u) until userID's presence is want.
func waitPresence(t *testing.T, u *apptest.User, userID, want string) {
	t.Helper()
	ctx := testCtx(t)
	for {
		p, err := u.API.Presence(ctx, userID)
		if err != nil {
			t.Fatal(err)
		}
		if p.Status == want {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("presence of %s never became %s", userID, want)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func waitStatus(t *testing.T, u *apptest.User, messageID, want string) {
	t.Helper()
	ctx := testCtx(t)
	for {
		st, err := u.API.MessageStatus(ctx, messageID)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Recipients) > 0 && st.Recipients[0].Status == want {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("status of %s never became %s: %+v", messageID, want, st)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestIdempotentSend(t *testing.T) {
	ctx := testCtx(t)
	_, alice, bob, conv := pair(t)
	ac, bc := alice.Dial(ctx), bob.Dial(ctx)

	var acks []client.Ack
	for range 2 {
		a, err := ac.SendMessage(ctx, text("same-key", conv.ConversationID, "once"))
		if err != nil {
			t.Fatal(err)
		}
		acks = append(acks, a)
	}
	// The third time across a reconnect, from a new connection.
	ac.Close()
	ac = alice.Dial(ctx)
	a, err := ac.SendMessage(ctx, text("same-key", conv.ConversationID, "once"))
	if err != nil {
		t.Fatal(err)
	}
	acks = append(acks, a)
	for _, a := range acks[1:] {
		if a.MessageID != acks[0].MessageID || a.SequenceNumber != acks[0].SequenceNumber {
			t.Fatalf("acks differ: %+v", acks)
		}
	}
	// A different key is a different message, next in sequence.
	next, err := ac.SendMessage(ctx, text("other-key", conv.ConversationID, "twice"))
	if err != nil || next.SequenceNumber != 2 {
		t.Fatalf("next = %+v, %v", next, err)
	}
	// Bob receives exactly the two messages.
	for i, want := range []string{acks[0].MessageID, next.MessageID} {
		f, err := bc.Next(ctx, "message")
		if err != nil || f.MessageID != want {
			t.Fatalf("message %d = %+v, %v; want %s", i, f, err, want)
		}
	}
	hist, err := bob.API.Messages(ctx, conv.ConversationID, client.HistoryOptions{})
	if err != nil || len(hist) != 2 {
		t.Fatalf("history = %+v, %v", hist, err)
	}
}

func TestConcurrentSendersKeepOrder(t *testing.T) {
	ctx := testCtx(t)
	_, alice, bob, conv := pair(t)
	bc := bob.Dial(ctx)

	const senders, each = 20, 10
	// 20 concurrent connections: alice on two devices and bob on two,
	// five connections each.
	var apis []*client.Client
	for range 2 {
		apis = append(apis, alice.NewDevice(ctx), bob.NewDevice(ctx))
	}
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for i := range senders {
		conn := apptest.Dial(ctx, t, apis[i%len(apis)])
		wg.Go(func() {
			for j := range each {
				if _, err := conn.SendMessage(ctx, text(fmt.Sprintf("s%d-%d", i, j), conv.ConversationID, "x")); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := senders * each
	hist, err := alice.API.Messages(ctx, conv.ConversationID, client.HistoryOptions{Limit: 500})
	if err != nil || len(hist) != total {
		t.Fatalf("history has %d, want %d (%v)", len(hist), total, err)
	}
	for i, m := range hist {
		if m.SequenceNumber != int64(i+1) {
			t.Fatalf("history[%d].seq = %d: gap or disorder", i, m.SequenceNumber)
		}
	}
	// bob's first device receives every message, each exactly once, in order
	// — including those bob's other devices sent.
	for i := range total {
		f, err := bc.Next(ctx, "message")
		if err != nil {
			t.Fatalf("after %d messages: %v", i, err)
		}
		if f.SequenceNumber != int64(i+1) {
			t.Fatalf("message %d has seq %d", i+1, f.SequenceNumber)
		}
	}
}

func TestOfflineQueueSurvivesRestart(t *testing.T) {
	ctx := testCtx(t)
	srv, alice, bob, conv := pair(t)
	ac := alice.Dial(ctx)
	var ids []string
	for i := range 50 {
		a, err := ac.SendMessage(ctx, text(fmt.Sprintf("q%d", i), conv.ConversationID, fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.MessageID)
	}
	srv.Restart()

	bc := bob.Dial(ctx)
	for i := range 50 {
		f, err := bc.Next(ctx, "message")
		if err != nil {
			t.Fatalf("queued message %d: %v", i, err)
		}
		if f.MessageID != ids[i] || f.SequenceNumber != int64(i+1) {
			t.Fatalf("queued message %d = %s seq %d, want %s", i, f.MessageID, f.SequenceNumber, ids[i])
		}
	}
	// Then live traffic follows.
	ac = alice.Dial(ctx)
	live, err := ac.SendMessage(ctx, text("live", conv.ConversationID, "live"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := bc.Next(ctx, "message")
	if err != nil || f.MessageID != live.MessageID || f.SequenceNumber != 51 {
		t.Fatalf("live after queue = %+v, %v", f, err)
	}
}

func TestTwoDevices(t *testing.T) {
	ctx := testCtx(t)
	_, alice, bob, conv := pair(t)
	phone := bob.Dial(ctx)
	laptopAPI := bob.NewDevice(ctx)
	laptop := apptest.Dial(ctx, t, laptopAPI)
	ac := alice.Dial(ctx)

	ack, err := ac.SendMessage(ctx, text("d1", conv.ConversationID, "to both"))
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*client.Conn{"phone": phone, "laptop": laptop} {
		f, err := c.Next(ctx, "message")
		if err != nil || f.MessageID != ack.MessageID {
			t.Fatalf("%s got %+v, %v", name, f, err)
		}
	}
	// The phone acks; alice hears "delivered" once.
	if err := phone.Ack(ctx, ack.MessageID); err != nil {
		t.Fatal(err)
	}
	if f, err := ac.Next(ctx, "status"); err != nil || f.Status != "delivered" {
		t.Fatalf("status = %+v, %v", f, err)
	}
	waitStatus(t, alice, ack.MessageID, "delivered")

	// The laptop did not ack: it gets the message again on its next
	// connect; the phone does not.
	laptop.Close()
	phone.Close()
	laptop = apptest.Dial(ctx, t, laptopAPI)
	if f, err := laptop.Next(ctx, "message"); err != nil || f.MessageID != ack.MessageID {
		t.Fatalf("laptop after reconnect = %+v, %v", f, err)
	}
	phone = bob.Dial(ctx)
	if err := phone.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	if f, err := phone.Next(ctx, "message", "status", "heartbeat_ack"); err != nil || f.Type != "heartbeat_ack" {
		t.Fatalf("phone after reconnect got %+v, %v; want nothing queued", f, err)
	}
}

func TestSenderOtherDeviceGetsOwnMessages(t *testing.T) {
	ctx := testCtx(t)
	_, alice, _, conv := pair(t)
	ac := alice.Dial(ctx)
	other := apptest.Dial(ctx, t, alice.NewDevice(ctx))
	ack, err := ac.SendMessage(ctx, text("own", conv.ConversationID, "from my phone"))
	if err != nil {
		t.Fatal(err)
	}
	if f, err := other.Next(ctx, "message"); err != nil || f.MessageID != ack.MessageID {
		t.Fatalf("other device got %+v, %v", f, err)
	}
	// The sending device does not get its own message back.
	if err := ac.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	if f, err := ac.Next(ctx, "message", "status", "heartbeat_ack"); err != nil || f.Type != "heartbeat_ack" {
		t.Fatalf("sending device got %+v, %v", f, err)
	}
}

// TestOneAckManyStatuses: one delivery_ack covering several messages tells
// the sender about each of them, live and (for an offline sender) on its
// next connect. (Found by the bench harness: frames sharing one receipt
// event were dropped after the first.)
func TestOneAckManyStatuses(t *testing.T) {
	ctx := testCtx(t)
	_, alice, bob, conv := pair(t)
	ac := alice.Dial(ctx)
	laptop := alice.NewDevice(ctx) // offline meanwhile
	var ids []string
	for i := range 3 {
		a, err := ac.SendMessage(ctx, text(fmt.Sprint("m", i), conv.ConversationID, "x"))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.MessageID)
	}
	bc := bob.Dial(ctx)
	for range ids {
		if _, err := bc.Next(ctx, "message"); err != nil {
			t.Fatal(err)
		}
	}
	if err := bc.Ack(ctx, ids...); err != nil {
		t.Fatal(err)
	}
	check := func(name string, c *client.Conn) {
		t.Helper()
		seen := map[string]bool{}
		for range ids {
			f, err := c.Next(ctx, "status")
			if err != nil || f.Status != "delivered" {
				t.Fatalf("%s: %+v, %v", name, f, err)
			}
			seen[f.MessageID] = true
		}
		for _, id := range ids {
			if !seen[id] {
				t.Fatalf("%s: no status for %s (got %v)", name, id, seen)
			}
		}
	}
	check("live", ac)
	waitStatus(t, alice, ids[2], "delivered")
	check("on connect", apptest.Dial(ctx, t, laptop))
}
