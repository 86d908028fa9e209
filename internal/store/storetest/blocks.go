package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/contacts"
	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/wire"
)

// testBlocks: a block is recorded once and listed; it shows in both
// users' contact sets; BlockersOf finds it; unknown users are not found.
func testBlocks(t *testing.T, s Store) {
	setup(t, s)
	mustUser(t, s, "c")
	if changed, err := s.SetBlock(ctx(t), "b", "a", true, t0); err != nil || !changed {
		t.Fatalf("block = %v, %v; want a change", changed, err)
	}
	if changed, err := s.SetBlock(ctx(t), "b", "a", true, t0.Add(time.Second)); err != nil || changed {
		t.Fatalf("block again = %v, %v; want no change", changed, err)
	}
	if _, err := s.SetBlock(ctx(t), "b", "nobody", true, t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("block of an unknown user = %v, want ErrNotFound", err)
	}
	if _, err := s.SetBlock(ctx(t), "b", "nobody", false, t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unblock of an unknown user = %v, want ErrNotFound", err)
	}
	list, err := s.BlockList(ctx(t), "b")
	if err != nil || len(list) != 1 || list[0].UserID != "a" || list[0].Username != "user-a" || !list[0].BlockedAt.Equal(t0) {
		t.Fatalf("BlockList(b) = %+v, %v; want a, blocked at the first time", list, err)
	}
	for _, u := range []string{"a", "b"} {
		other := map[string]string{"a": "b", "b": "a"}[u]
		c, err := s.Contacts(ctx(t), u)
		if err != nil || !slices.Equal(c.Blocked, []string{other}) {
			t.Fatalf("Contacts(%s).Blocked = %v, %v; want [%s]", u, c.Blocked, err, other)
		}
		if _, v, err := s.PresenceView(ctx(t), u); err != nil || !slices.Equal(v.Blocked, c.Blocked) {
			t.Fatalf("PresenceView(%s).Blocked = %v, %v", u, v.Blocked, err)
		}
	}
	if got, err := s.BlockersOf(ctx(t), "a", []string{"b", "c"}); err != nil || !slices.Equal(got, []string{"b"}) {
		t.Fatalf("BlockersOf(a) = %v, %v; want [b]", got, err)
	}
	if changed, err := s.SetBlock(ctx(t), "b", "a", false, t0); err != nil || !changed {
		t.Fatalf("unblock = %v, %v", changed, err)
	}
	if changed, err := s.SetBlock(ctx(t), "b", "a", false, t0); err != nil || changed {
		t.Fatalf("unblock again = %v, %v; want no change", changed, err)
	}
	if c, _ := s.Contacts(ctx(t), "a"); len(c.Blocked) != 0 {
		t.Fatalf("blocked after the unblock: %v", c.Blocked)
	}
}

// testWithheld: a 1:1 message whose recipient blocks its sender takes the
// next number and is the sender's alone: in its history and its other
// devices' queues, in no view of the recipient's (history, queue, range,
// list), never "delivered" however far the recipient's cursors move, and
// a resend of its key answers it again, to the sender only. Group
// messages are not withheld.
func testWithheld(t *testing.T, s Store) {
	setup(t, s) // a and b share the 1:1 ab, created by a
	mustDevice(t, s, "a", "a2")
	mustAppend(t, s, msg("ab", "a", "a1", "1"))
	if _, err := s.SetBlock(ctx(t), "b", "a", true, t0); err != nil {
		t.Fatal(err)
	}
	res := mustAppend(t, s, msg("ab", "a", "a1", "2"))
	held := res[0]
	if !held.Message.Withheld || held.Message.Seq != 2 || !slices.Equal(held.Members, []string{"a"}) {
		t.Fatalf("send while blocked = %+v; want withheld, number 2, for a alone", held)
	}
	again := mustAppend(t, s, msg("ab", "a", "a1", "2"))[0]
	if !again.Duplicate || again.Message.ID != held.Message.ID || !slices.Equal(again.Members, []string{"a"}) {
		t.Fatalf("resend = %+v; want the withheld original, for a alone", again)
	}
	// b's own messages still reach a.
	if r := mustAppend(t, s, msg("ab", "b", "b1", "x"))[0]; r.Message.Withheld || len(r.Members) != 2 {
		t.Fatalf("the blocker's own message = %+v; want it for both", r)
	}
	hist := func(viewer string) []int64 {
		t.Helper()
		h, err := s.History(ctx(t), "ab", messaging.HistoryQuery{Page: messaging.Newest, Limit: 10, Viewer: viewer})
		if err != nil {
			t.Fatal(err)
		}
		var seqs []int64
		for _, m := range h {
			seqs = append(seqs, m.Seq)
		}
		return seqs
	}
	if got := hist("a"); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Fatalf("a's history = %v, want 1 2 3", got)
	}
	if got := hist("b"); !slices.Equal(got, []int64{1, 3}) {
		t.Fatalf("b's history = %v, want 1 3", got)
	}
	if p, err := s.Pending(ctx(t), "b1", messaging.PendingCursor{}, 10, messaging.Window{}); err != nil || len(p) != 1 || p[0].Seq != 1 {
		t.Fatalf("b1's queue = %+v, %v; want message 1 only", p, err)
	}
	if p, err := s.Pending(ctx(t), "a2", messaging.PendingCursor{}, 10, messaging.Window{}); err != nil || len(p) != 3 {
		t.Fatalf("a2's queue = %+v, %v; want 1, 2 and b's 3", p, err)
	}
	if r, err := s.Range(ctx(t), "b", "ab", 1, 3, messaging.Window{}); err != nil || len(r) != 0 {
		t.Fatalf("b's Range(1,3) = %+v, %v; want nothing", r, err)
	}
	if r, err := s.Range(ctx(t), "a", "ab", 1, 3, messaging.Window{}); err != nil || len(r) != 1 {
		t.Fatalf("a's Range(1,3) = %+v, %v; want the withheld message", r, err)
	}
	list, err := s.ConversationsOf(ctx(t), "b", time.Time{}, time.Time{})
	if err != nil || len(list) != 1 || list[0].Unread != 1 || list[0].LastMessage == nil || list[0].LastMessage.Seq != 3 {
		t.Fatalf("b's list = %+v, %v; want 1 unread (message 1), last message 3", list, err)
	}
	// b reads everything it has, up to 3: message 1 is read, 2 never.
	changes, errs, err := s.ApplyReceipts(ctx(t), []messaging.ReceiptRequest{{
		UserID: "b", DeviceID: "b1", Status: wire.StatusRead, MessageIDs: []string{res[0].Message.ID, "m-b-x"}, At: t0}})
	if err == nil && errs[0] != nil {
		err = errs[0]
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range changes {
		if c.MessageID == held.Message.ID {
			t.Fatalf("a status change of the withheld message: %+v", c)
		}
	}
	m, err := s.MessageByID(ctx(t), held.Message.ID)
	if err != nil || !m.Withheld {
		t.Fatalf("MessageByID = %+v, %v; want it withheld", m, err)
	}
	st, err := s.Statuses(ctx(t), m)
	if err != nil || len(st) != 1 || st[0].Status != wire.StatusSent {
		t.Fatalf("statuses of the withheld message = %+v, %v; want sent", st, err)
	}
	sc, err := s.StatusesSince(ctx(t), "a", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range sc {
		if c.MessageID == held.Message.ID {
			t.Fatalf("StatusesSince names the withheld message: %+v", c)
		}
	}
	// Expiry deletes it without an "expired" for b.
	_, _, exp, err := s.ExpireMessages(ctx(t), t0.Add(time.Hour), t0.Add(time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range exp {
		if c.MessageID == held.Message.ID {
			t.Fatalf("expiry told a about the withheld message: %+v", c)
		}
	}
}

// testDeleteAccount: the account is emptied and marked, its sessions,
// contacts and blocks go, it is no longer found by name, its deletion is
// unfinished while it is a member, and its username frees after the
// given time only.
func testDeleteAccount(t *testing.T, s Store) {
	setup(t, s) // a and b, devices a1, b1, b2, the 1:1 ab
	mustUser(t, s, "c")
	if _, err := s.SetContact(ctx(t), "b", "a", true, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetBlock(ctx(t), "a", "c", true, t0); err != nil {
		t.Fatal(err)
	}
	ended, err := s.DeleteAccount(ctx(t), "a", t0)
	if err != nil || !slices.Equal(ended, []string{"a1"}) {
		t.Fatalf("DeleteAccount = %v, %v; want a1 ended", ended, err)
	}
	if _, err := s.DeleteAccount(ctx(t), "a", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleting again = %v, want ErrNotFound", err)
	}
	u, err := s.UserByID(ctx(t), "a")
	if err != nil || !u.Deleted || u.DisplayName != "" {
		t.Fatalf("UserByID(a) = %+v, %v; want it deleted and emptied", u, err)
	}
	if _, _, err := s.UserByUsername(ctx(t), "user-a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UserByUsername of a deleted account = %v, want ErrNotFound", err)
	}
	if missing, err := s.MissingUsers(ctx(t), []string{"a", "b"}); err != nil || !slices.Equal(missing, []string{"a"}) {
		t.Fatalf("MissingUsers = %v, %v; want the deleted one", missing, err)
	}
	if c, err := s.ContactList(ctx(t), "b"); err != nil || slices.ContainsFunc(c, func(x contacts.Contact) bool { return x.UserID == "a" && !x.AddedAt.IsZero() }) {
		t.Fatalf("b's contacts = %+v, %v; want the explicit add gone", c, err)
	}
	if l, err := s.BlockList(ctx(t), "a"); err != nil || len(l) != 0 {
		t.Fatalf("a's blocks = %+v, %v", l, err)
	}
	if ids, err := s.UnfinishedDeletions(ctx(t), 10); err != nil || !slices.Equal(ids, []string{"a"}) {
		t.Fatalf("UnfinishedDeletions = %v, %v; want a (still in ab)", ids, err)
	}
	if n, err := s.FreeUsernames(ctx(t), t0, 10); err != nil || n != 0 {
		t.Fatalf("FreeUsernames before the time = %d, %v", n, err)
	}
	if n, err := s.FreeUsernames(ctx(t), t0.Add(time.Millisecond), 10); err != nil || n != 1 {
		t.Fatalf("FreeUsernames = %d, %v; want 1", n, err)
	}
	if n, err := s.FreeUsernames(ctx(t), t0.Add(time.Millisecond), 10); err != nil || n != 0 {
		t.Fatalf("FreeUsernames again = %d, %v; want 0", n, err)
	}
	mustUser(t, s, "a2") // its name differs; the freed one is taken by a new account below
	if err := s.CreateUser(ctx(t), identityUser("a3", "user-a"), "h"); err != nil {
		t.Fatalf("taking the freed username: %v", err)
	}
}

func identityUser(id, username string) identity.User {
	return identity.User{ID: id, Username: username, DisplayName: id, CreatedAt: t0}
}
