package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
)

func users(ctx context.Context, srv *apptest.Server, prefix string, n int) []*apptest.User {
	out := make([]*apptest.User, n)
	for i := range n {
		out[i] = srv.NewUser(ctx, prefix)
	}
	return out
}

func ids(us []*apptest.User) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.UserID
	}
	return out
}

func roles(c client.Conversation) map[string]string {
	m := map[string]string{}
	for _, p := range c.Participants {
		m[p.UserID] = p.Role
	}
	return m
}

func TestCreateGroup(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	admin := srv.NewUser(ctx, "admin")
	others := users(ctx, srv, "member", 3)
	g, err := admin.API.CreateGroup(ctx, "Climbing", ids(others))
	if err != nil {
		t.Fatal(err)
	}
	r := roles(g)
	if g.Type != "group" || g.Name != "Climbing" || len(r) != 4 || r[admin.UserID] != "admin" || r[others[0].UserID] != "member" {
		t.Fatalf("group = %+v", g)
	}
	got, err := others[2].API.Conversation(ctx, g.ConversationID)
	if err != nil || len(got.Participants) != 4 {
		t.Fatalf("member reads group: %+v, %v", got, err)
	}
	ps, err := others[1].API.Participants(ctx, g.ConversationID)
	if err != nil || len(ps) != 4 || ps[0].UserID != admin.UserID || ps[0].Role != "admin" {
		t.Fatalf("participants = %+v, %v", ps, err)
	}
	// Notes to self: a group with no one else is allowed.
	solo, err := admin.API.CreateGroup(ctx, "Notes", nil)
	if err != nil || len(solo.Participants) != 1 {
		t.Fatalf("solo group = %+v, %v", solo, err)
	}

	many := users(ctx, srv, "crowd", 100)
	refusals := []struct {
		name         string
		participants []string
		groupName    string
		code         string
	}{
		{"101 members", ids(many), "big", "group_full"},
		{"unknown user", []string{others[0].UserID, "nope"}, "x", "invalid"},
		{"duplicate user", []string{others[0].UserID, others[0].UserID}, "x", "invalid"},
		{"name over 100 characters", ids(others), strings.Repeat("n", 101), "invalid"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			_, err := admin.API.CreateGroup(ctx, tc.groupName, tc.participants)
			if client.ErrorCode(err) != tc.code {
				t.Fatalf("err = %v, want %s", err, tc.code)
			}
		})
	}
	// Exactly 100, the creator counted, is fine.
	if _, err := admin.API.CreateGroup(ctx, "full", ids(many[:99])); err != nil {
		t.Fatalf("a 100-member group: %v", err)
	}
	// Nothing was created by the refusals: admin has 3 groups.
	list, err := admin.API.Conversations(ctx)
	if err != nil || len(list) != 3 {
		t.Fatalf("admin has %d conversations, %v; want 3", len(list), err)
	}
}

// TestGroupLimitHoldsUnderConcurrency: 20 concurrent adds to a group of 95
// → exactly 5 succeed.
func TestGroupLimitHoldsUnderConcurrency(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	admin := srv.NewUser(ctx, "admin")
	members := users(ctx, srv, "m", 94)
	extra := users(ctx, srv, "x", 20)
	g, err := admin.API.CreateGroup(ctx, "nearly full", ids(members))
	if err != nil || len(g.Participants) != 95 {
		t.Fatalf("group of 95: %d, %v", len(g.Participants), err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, full := 0, 0
	for _, u := range extra {
		wg.Go(func() {
			_, err := admin.API.AddParticipant(ctx, g.ConversationID, u.UserID)
			mu.Lock()
			defer mu.Unlock()
			switch client.ErrorCode(err) {
			case "":
				ok++
			case "group_full":
				if e := err.(*client.Error); e.Status != 422 {
					t.Errorf("group_full with HTTP %d", e.Status)
				}
				full++
			default:
				t.Errorf("add: %v", err)
			}
		})
	}
	wg.Wait()
	g, err = admin.API.Conversation(ctx, g.ConversationID)
	if err != nil {
		t.Fatal(err)
	}
	if ok != 5 || full != 15 || len(g.Participants) != 100 {
		t.Fatalf("%d adds succeeded, %d group_full, %d members; want 5, 15, 100", ok, full, len(g.Participants))
	}
}

func TestGroupFanOutOnlineAndOffline(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	sender := srv.NewUser(ctx, "sender")
	members := users(ctx, srv, "m", 99)
	g, err := sender.API.CreateGroup(ctx, "everyone", ids(members))
	if err != nil {
		t.Fatal(err)
	}
	// Half the members online, half offline.
	conns := map[int]*client.Conn{}
	for i := range members {
		if i%2 == 0 {
			conns[i] = members[i].Dial(ctx)
		}
	}
	sc := sender.Dial(ctx)
	const n = 10
	var want []string
	for i := range n {
		a, err := sc.SendMessage(ctx, text(fmt.Sprint(i), g.ConversationID, fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, a.MessageID)
	}
	check := func(name string, c *client.Conn) {
		t.Helper()
		for i, id := range want {
			f, err := c.Next(ctx, "message")
			if err != nil || f.MessageID != id || f.SequenceNumber != int64(i+1) {
				t.Fatalf("%s message %d = %+v, %v", name, i, f, err)
			}
		}
	}
	for i, c := range conns {
		check(members[i].Username, c)
	}
	for i, m := range members {
		if i%2 == 1 {
			check(m.Username+" (offline)", m.Dial(ctx))
		}
	}
	// The sender's connection got no copy of its own messages.
	if err := sc.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	if f, err := sc.Next(ctx, "message", "heartbeat_ack"); err != nil || f.Type != "heartbeat_ack" {
		t.Fatalf("sender got %+v, %v", f, err)
	}
}

type systemEvent struct {
	Event   string `json:"event"`
	ActorID string `json:"actor_id"`
	UserID  string `json:"user_id"`
	Name    string `json:"name"`
	Role    string `json:"role"`
}

func nextSystem(t *testing.T, ctx context.Context, c *client.Conn) (client.Frame, systemEvent) {
	t.Helper()
	f, err := c.Next(ctx, "message")
	if err != nil {
		t.Fatal(err)
	}
	if f.MessageType != "system" {
		t.Fatalf("want a system message, got %+v", f)
	}
	var ev systemEvent
	if err := json.Unmarshal([]byte(f.Content), &ev); err != nil {
		t.Fatalf("system content %q: %v", f.Content, err)
	}
	return f, ev
}

func TestMembershipChangesAreMessages(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	alice, bob, carol, dave := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "carol"), srv.NewUser(ctx, "dave")
	g, err := alice.API.CreateGroup(ctx, "trip", []string{bob.UserID, carol.UserID})
	if err != nil {
		t.Fatal(err)
	}
	bc := bob.Dial(ctx)

	if _, err := alice.API.AddParticipant(ctx, g.ConversationID, dave.UserID); err != nil {
		t.Fatal(err)
	}
	f, ev := nextSystem(t, ctx, bc)
	if ev.Event != "member_added" || ev.ActorID != alice.UserID || ev.UserID != dave.UserID || f.SenderID != alice.UserID || f.SequenceNumber != 1 {
		t.Fatalf("add = %+v %+v", f, ev)
	}
	// Adding a current member again changes nothing (200, no message).
	if _, err := alice.API.AddParticipant(ctx, g.ConversationID, dave.UserID); err != nil {
		t.Fatalf("idempotent add: %v", err)
	}
	if _, err := alice.API.Rename(ctx, g.ConversationID, "trip 2027"); err != nil {
		t.Fatal(err)
	}
	if f, ev = nextSystem(t, ctx, bc); ev.Event != "renamed" || ev.Name != "trip 2027" || f.SequenceNumber != 2 {
		t.Fatalf("rename = %+v %+v", f, ev)
	}
	if _, err := alice.API.SetRole(ctx, g.ConversationID, carol.UserID, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, ev = nextSystem(t, ctx, bc); ev.Event != "role_changed" || ev.UserID != carol.UserID || ev.Role != "admin" {
		t.Fatalf("promote = %+v", ev)
	}
	if err := carol.API.RemoveParticipant(ctx, g.ConversationID, dave.UserID); err != nil {
		t.Fatal(err)
	}
	if _, ev = nextSystem(t, ctx, bc); ev.Event != "member_removed" || ev.ActorID != carol.UserID || ev.UserID != dave.UserID {
		t.Fatalf("remove = %+v", ev)
	}
	if err := bob.API.RemoveParticipant(ctx, g.ConversationID, bob.UserID); err != nil {
		t.Fatal(err)
	}
	// History shows every change in order.
	hist, err := alice.API.Messages(ctx, g.ConversationID, client.HistoryOptions{})
	if err != nil || len(hist) != 5 {
		t.Fatalf("history = %d messages, %v", len(hist), err)
	}
	var events []string
	for _, m := range hist {
		var ev systemEvent
		_ = json.Unmarshal([]byte(m.Content), &ev)
		events = append(events, ev.Event)
	}
	if strings.Join(events, ",") != "member_added,renamed,role_changed,member_removed,member_left" {
		t.Fatalf("events = %v", events)
	}
	c, _ := alice.API.Conversation(ctx, g.ConversationID)
	if c.Name != "trip 2027" || len(c.Participants) != 2 {
		t.Fatalf("after changes = %+v", c)
	}
}

func TestLastAdminLeavingPromotesOldestMember(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	alice, bob, carol := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "carol")
	g, err := alice.API.CreateGroup(ctx, "g", []string{bob.UserID, carol.UserID})
	if err != nil {
		t.Fatal(err)
	}
	// The last admin cannot demote itself: the group would have none.
	if _, err := alice.API.SetRole(ctx, g.ConversationID, alice.UserID, "member"); client.ErrorCode(err) != "invalid" {
		t.Fatalf("demoting the last admin: %v", err)
	}
	if err := alice.API.RemoveParticipant(ctx, g.ConversationID, alice.UserID); err != nil {
		t.Fatal(err)
	}
	c, err := bob.API.Conversation(ctx, g.ConversationID)
	if err != nil {
		t.Fatal(err)
	}
	if r := roles(c); len(r) != 2 || r[bob.UserID] != "admin" || r[carol.UserID] != "member" {
		t.Fatalf("after the last admin left: %+v", c.Participants)
	}
	if _, err := alice.API.Conversation(ctx, g.ConversationID); client.ErrorCode(err) != "forbidden" {
		t.Fatalf("a member who left reads the group: %v", err)
	}
}

func TestGroupBadInput(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	alice, bob, carol, eve := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "carol"), srv.NewUser(ctx, "eve")
	g, err := alice.API.CreateGroup(ctx, "g", []string{bob.UserID, carol.UserID})
	if err != nil {
		t.Fatal(err)
	}
	direct, err := alice.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	// Renaming is open to members unless the group says otherwise (its
	// system message is sequence number 1).
	adminsEdit := true
	if _, err := alice.API.UpdateGroup(ctx, g.ConversationID, client.GroupUpdate{OnlyAdminsEditInfo: &adminsEdit}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		call func() error
		code string
	}{
		{"member adds", func() error { _, err := bob.API.AddParticipant(ctx, g.ConversationID, eve.UserID); return err }, "forbidden"},
		{"member removes another", func() error { return bob.API.RemoveParticipant(ctx, g.ConversationID, carol.UserID) }, "forbidden"},
		{"member renames", func() error { _, err := bob.API.Rename(ctx, g.ConversationID, "mine"); return err }, "forbidden"},
		{"member promotes itself", func() error { _, err := bob.API.SetRole(ctx, g.ConversationID, bob.UserID, "admin"); return err }, "forbidden"},
		{"non-member reads", func() error { _, err := eve.API.Conversation(ctx, g.ConversationID); return err }, "forbidden"},
		{"non-member history", func() error {
			_, err := eve.API.Messages(ctx, g.ConversationID, client.HistoryOptions{})
			return err
		}, "forbidden"},
		{"non-member adds", func() error { _, err := eve.API.AddParticipant(ctx, g.ConversationID, eve.UserID); return err }, "forbidden"},
		{"non-member leaves", func() error { return eve.API.RemoveParticipant(ctx, g.ConversationID, eve.UserID) }, "forbidden"},
		{"remove a non-member", func() error { return alice.API.RemoveParticipant(ctx, g.ConversationID, eve.UserID) }, "not_found"},
		{"add unknown user", func() error { _, err := alice.API.AddParticipant(ctx, g.ConversationID, "nope"); return err }, "invalid"},
		{"rename too long", func() error { _, err := alice.API.Rename(ctx, g.ConversationID, strings.Repeat("n", 101)); return err }, "invalid"},
		{"rename with RTL override", func() error { _, err := alice.API.Rename(ctx, g.ConversationID, "trip\u202e"); return err }, "invalid"},
		{"bad role", func() error { _, err := alice.API.SetRole(ctx, g.ConversationID, bob.UserID, "owner"); return err }, "invalid"},
		{"add to a 1:1", func() error { _, err := alice.API.AddParticipant(ctx, direct.ConversationID, carol.UserID); return err }, "invalid"},
		{"leave a 1:1", func() error { return alice.API.RemoveParticipant(ctx, direct.ConversationID, alice.UserID) }, "invalid"},
		{"unknown group", func() error { _, err := alice.API.AddParticipant(ctx, "nope", carol.UserID); return err }, "not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); client.ErrorCode(err) != tc.code {
				t.Fatalf("err = %v, want %s", err, tc.code)
			}
		})
	}
	// Nothing changed.
	c, _ := alice.API.Conversation(ctx, g.ConversationID)
	if r := roles(c); c.Name != "g" || len(r) != 3 || r[bob.UserID] != "member" || c.LastSequenceNumber != 1 {
		t.Fatalf("group after refusals = %+v", c)
	}
	// A non-member cannot send or type into the group.
	ec := eve.Dial(ctx)
	if _, err := ec.SendMessage(ctx, text("e1", g.ConversationID, "let me in")); client.ErrorCode(err) != "forbidden" {
		t.Fatalf("non-member send: %v", err)
	}
}

// TestRemovedMemberStopsReceiving removes a member in the middle of a burst:
// it receives exactly the messages sequenced before its removal, cannot
// send or read on, and once re-added sees only what follows.
func TestRemovedMemberStopsReceiving(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	alice, bob, carol := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "carol")
	g, err := alice.API.CreateGroup(ctx, "g", []string{bob.UserID, carol.UserID})
	if err != nil {
		t.Fatal(err)
	}
	ac := alice.Dial(ctx)
	cc := carol.Dial(ctx)
	// bob stays offline: his queue must stop exactly at the removal.
	const burst = 60
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range burst {
			if _, err := ac.SendMessage(ctx, text(fmt.Sprint(i), g.ConversationID, fmt.Sprint(i))); err != nil {
				t.Error(err)
				return
			}
		}
	})
	// Remove bob once some messages are in.
	for i := 0; i < 20; i++ {
		if _, err := cc.Next(ctx, "message"); err != nil {
			t.Fatal(err)
		}
	}
	if err := alice.API.RemoveParticipant(ctx, g.ConversationID, bob.UserID); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	// Find the removal's sequence number.
	hist, err := alice.API.Messages(ctx, g.ConversationID, client.HistoryOptions{Limit: 500})
	if err != nil || len(hist) != burst+1 {
		t.Fatalf("history = %d, %v", len(hist), err)
	}
	var removedAt int64
	for _, m := range hist {
		if m.MessageType == "system" {
			removedAt = m.SequenceNumber
		}
	}
	bc := bob.Dial(ctx)
	for seq := int64(1); seq < removedAt; seq++ {
		f, err := bc.Next(ctx, "message")
		if err != nil || f.SequenceNumber != seq {
			t.Fatalf("bob's message %d: %+v, %v", seq, f, err)
		}
	}
	if err := bc.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	if f, err := bc.Next(ctx, "message", "heartbeat_ack"); err != nil || f.Type != "heartbeat_ack" {
		t.Fatalf("bob got %+v after his removal at seq %d", f, removedAt)
	}
	if _, err := bc.SendMessage(ctx, text("b1", g.ConversationID, "still here?")); client.ErrorCode(err) != "forbidden" {
		t.Fatalf("removed member sends: %v", err)
	}
	if _, err := bob.API.Messages(ctx, g.ConversationID, client.HistoryOptions{}); client.ErrorCode(err) != "forbidden" {
		t.Fatalf("removed member reads history: %v", err)
	}
	// Live traffic after the removal does not reach him either.
	live, err := ac.SendMessage(ctx, text("after", g.ConversationID, "after"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.API.AddParticipant(ctx, g.ConversationID, bob.UserID); err != nil {
		t.Fatal(err)
	}
	again, err := ac.SendMessage(ctx, text("back", g.ConversationID, "welcome back"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := bc.Next(ctx, "message")
	if err != nil || f.MessageID != again.MessageID {
		t.Fatalf("re-added bob got %+v, %v; want only %s (not %s)", f, err, again.MessageID, live.MessageID)
	}
	h, err := bob.API.Messages(ctx, g.ConversationID, client.HistoryOptions{})
	if err != nil || len(h) != 1 || h[0].MessageID != again.MessageID {
		t.Fatalf("re-added bob's history = %+v, %v", h, err)
	}
}

func TestGroupReceiptsPerMemberAndAggregate(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	alice := srv.NewUser(ctx, "alice")
	members := users(ctx, srv, "m", 3)
	g, err := alice.API.CreateGroup(ctx, "g", ids(members))
	if err != nil {
		t.Fatal(err)
	}
	ac := alice.Dial(ctx)
	ack, err := ac.SendMessage(ctx, text("r", g.ConversationID, "read me"))
	if err != nil {
		t.Fatal(err)
	}
	status := func() client.MessageStatus {
		st, err := alice.API.MessageStatus(ctx, ack.MessageID)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := status(); st.Status != "sent" || len(st.Recipients) != 3 {
		t.Fatalf("initial = %+v", st)
	}
	conns := make([]*client.Conn, len(members))
	for i, m := range members {
		conns[i] = m.Dial(ctx)
		if _, err := conns[i].Next(ctx, "message"); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range conns {
		if err := c.Ack(ctx, ack.MessageID); err != nil {
			t.Fatal(err)
		}
		f, err := ac.Next(ctx, "status")
		if err != nil || f.UserID != members[i].UserID || f.Status != "delivered" {
			t.Fatalf("status frame for member %d = %+v, %v", i, f, err)
		}
		want := "sent"
		if i == len(conns)-1 {
			want = "delivered" // the double tick needs every member
		}
		if st := status(); st.Status != want {
			t.Fatalf("after %d acks aggregate = %s, want %s", i+1, st.Status, want)
		}
	}
	for i, c := range conns[:2] {
		if err := c.Read(ctx, g.ConversationID, ack.MessageID); err != nil {
			t.Fatal(err)
		}
		if f, err := ac.Next(ctx, "status"); err != nil || f.Status != "read" || f.UserID != members[i].UserID {
			t.Fatalf("read frame = %+v, %v", f, err)
		}
	}
	st := status()
	per := map[string]string{}
	for _, r := range st.Recipients {
		per[r.UserID] = r.Status
	}
	if st.Status != "delivered" || per[members[0].UserID] != "read" || per[members[2].UserID] != "delivered" {
		t.Fatalf("two of three read = %+v", st)
	}
	if err := conns[2].Read(ctx, g.ConversationID, ack.MessageID); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.Next(ctx, "status"); err != nil {
		t.Fatal(err)
	}
	if st := status(); st.Status != "read" {
		t.Fatalf("all read: aggregate = %s", st.Status)
	}
}
