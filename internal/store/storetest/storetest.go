// Package storetest is the conformance suite every store backend must
// pass: the same behaviour, checked the same way, whatever the engine.
// A backend's test calls Run with a function that opens a fresh store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/accounts"
	"github.com/parleychat/parley/internal/blocks"
	"github.com/parleychat/parley/internal/contacts"
	"github.com/parleychat/parley/internal/conversations"
	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/internal/media"
	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/internal/presence"
	"github.com/parleychat/parley/internal/profiles"
	"github.com/parleychat/parley/internal/retention"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/wire"
)

// Store is everything a backend implements.
type Store interface {
	identity.Store
	conversations.Store
	conversations.TxStore
	messaging.Store
	// One-sided group commits, for the tests.
	AppendMessages(ctx context.Context, batch []messaging.Message) ([]messaging.AppendResult, error)
	ApplyReceipts(ctx context.Context, batch []messaging.ReceiptRequest) ([]messaging.StatusChange, []error, error)
	ExpireMessages(ctx context.Context, cutoff, now time.Time, limit int) (int, int64, []messaging.StatusChange, error)
	presence.Store
	contacts.Store
	blocks.Store
	accounts.Store
	profiles.Store
	retention.Store
	media.Store
}

// Run runs the suite; open must return an empty store for each call.
func Run(t *testing.T, open func(t *testing.T) Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s Store)
	}{
		{"Users", testUsers},
		{"Discoverability", testDiscoverability},
		{"Devices", testDevices},
		{"DeviceManagement", testDeviceManagement},
		{"DirectConversations", testDirect},
		{"AppendSequencesAndIdempotency", testAppend},
		{"AppendRefusals", testAppendRefusals},
		{"CreatedAtFollowsSeq", testCreatedAtFollowsSeq},
		{"ResendReachesOnlyItsMembers", testResendReachesOnlyItsMembers},
		{"PendingQueue", testPending},
		{"StreamStart", testStreamStart},
		{"Receipts", testReceipts},
		{"ThousandReceiptsInOneCycle", testThousandReceipts},
		{"ChangesInACycle", testChangesInACycle},
		{"ReceiptRefusalChangesNothing", testReceiptRefusal},
		{"History", testHistory},
		{"LastSeen", testLastSeen},
		{"GroupLimit", testGroupLimit},
		{"MembershipWindow", testMembershipWindow},
		{"Expiry", testExpiry},
		{"CommitSendsAndReceiptsTogether", testCommitBoth},
		{"PresenceSettingsAndContacts", testPresenceSettings},
		{"ExplicitContacts", testExplicitContacts},
		{"Blocks", testBlocks},
		{"WithheldMessages", testWithheld},
		{"DeleteAccount", testDeleteAccount},
		{"MediaLifecycle", testMediaLifecycle},
		{"MediaVisibility", testMediaVisibility},
		{"MediaSweepAndExpiry", testMediaSweepAndExpiry},
		{"Profiles", testProfiles},
		{"GroupInfo", testGroupInfo},
		{"Invites", testInvites},
		{"Disappearing", testDisappearing},
		{"Forwards", testForwards},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

var t0 = time.UnixMilli(1_790_000_000_000)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func mustUser(t *testing.T, s Store, id string) {
	t.Helper()
	if err := s.CreateUser(ctx(t), identity.User{ID: id, Username: "user-" + id, DisplayName: id, CreatedAt: t0}, "hash"); err != nil {
		t.Fatalf("create user %s: %v", id, err)
	}
}

func mustDevice(t *testing.T, s Store, user, id string) {
	t.Helper()
	d := identity.Device{ID: id, UserID: user, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), LastUsedAt: t0}
	if _, err := s.CreateDevice(ctx(t), d, []byte("token-"+id), 5); err != nil {
		t.Fatalf("create device %s: %v", id, err)
	}
}

func mustDirect(t *testing.T, s Store, id, a, b string) conversations.Conversation {
	t.Helper()
	c := conversations.Conversation{ID: id, Type: conversations.TypeDirect, CreatedBy: a, CreatedAt: t0, LastActivityAt: t0,
		Members: []conversations.Member{{UserID: a, Role: conversations.RoleMember, JoinedAt: t0}, {UserID: b, Role: conversations.RoleMember, JoinedAt: t0}}}
	got, _, err := s.CreateDirect(ctx(t), c, a+":"+b)
	if err != nil {
		t.Fatalf("create conversation: %v", err)
	}
	return got
}

func msg(conv, sender, device, cmid string) messaging.Message {
	return messaging.Message{ID: "m-" + sender + "-" + cmid, ConversationID: conv, SenderID: sender, SenderDevice: device,
		ClientMessageID: cmid, Type: "text", Content: "content " + cmid, CreatedAt: t0}
}

func mustAppend(t *testing.T, s Store, batch ...messaging.Message) []messaging.AppendResult {
	t.Helper()
	res, err := s.AppendMessages(ctx(t), batch)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("append %d: %v", i, r.Err)
		}
	}
	return res
}

// setup creates users a and b with devices a1, b1, b2 and their 1:1 "ab".
func setup(t *testing.T, s Store) {
	t.Helper()
	mustUser(t, s, "a")
	mustUser(t, s, "b")
	mustDevice(t, s, "a", "a1")
	mustDevice(t, s, "b", "b1")
	mustDevice(t, s, "b", "b2")
	mustDirect(t, s, "ab", "a", "b")
}

func testUsers(t *testing.T, s Store) {
	mustUser(t, s, "u1")
	err := s.CreateUser(ctx(t), identity.User{ID: "u2", Username: "USER-u1", DisplayName: "x", CreatedAt: t0}, "h")
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate username (other case): %v, want ErrConflict", err)
	}
	u, hash, err := s.UserByUsername(ctx(t), "user-u1")
	if err != nil || u.ID != "u1" || hash != "hash" || !u.CreatedAt.Equal(t0) {
		t.Fatalf("UserByUsername = %+v %q %v", u, hash, err)
	}
	if _, err := s.UserByID(ctx(t), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UserByID(nope) = %v", err)
	}
	missing, err := s.MissingUsers(ctx(t), []string{"u1", "nope"})
	if err != nil || len(missing) != 1 || missing[0] != "nope" {
		t.Fatalf("MissingUsers = %v, %v", missing, err)
	}
}

func testDiscoverability(t *testing.T, s Store) {
	mustUser(t, s, "u1")
	u, d, err := s.UserForLookup(ctx(t), "USER-U1")
	if err != nil || u.ID != "u1" || u.Username != "user-u1" || d != identity.DiscoverableEveryone || !u.CreatedAt.Equal(t0) {
		t.Fatalf("UserForLookup(other case) = %+v %q %v, want u1 everyone", u, d, err)
	}
	if _, _, err := s.UserForLookup(ctx(t), "user-nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UserForLookup(nope) = %v, want ErrNotFound", err)
	}
	if err := s.SetDiscoverability(ctx(t), "u1", identity.DiscoverableNobody); err != nil {
		t.Fatal(err)
	}
	if d, err := s.Discoverability(ctx(t), "u1"); err != nil || d != identity.DiscoverableNobody {
		t.Fatalf("Discoverability = %q %v, want nobody", d, err)
	}
	if _, d, err := s.UserForLookup(ctx(t), "user-u1"); err != nil || d != identity.DiscoverableNobody {
		t.Fatalf("UserForLookup after hiding = %q %v, want nobody", d, err)
	}
	if _, err := s.Discoverability(ctx(t), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Discoverability(nope) = %v, want ErrNotFound", err)
	}
}

func testDevices(t *testing.T, s Store) {
	mustUser(t, s, "u")
	for i := range 5 {
		d := identity.Device{ID: fmt.Sprintf("d%d", i), UserID: "u", CreatedAt: t0.Add(time.Duration(i) * time.Second), ExpiresAt: t0.Add(time.Hour)}
		ev, err := s.CreateDevice(ctx(t), d, []byte(d.ID), 5)
		if err != nil || len(ev) != 0 {
			t.Fatalf("device %d: evicted %v, %v", i, ev, err)
		}
	}
	d := identity.Device{ID: "d5", UserID: "u", CreatedAt: t0.Add(time.Minute), ExpiresAt: t0.Add(time.Hour)}
	ev, err := s.CreateDevice(ctx(t), d, []byte("d5"), 5)
	if err != nil || len(ev) != 1 || ev[0] != "d0" {
		t.Fatalf("sixth device evicted %v, %v; want [d0]", ev, err)
	}
	if _, err := s.DeviceByToken(ctx(t), []byte("d0")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("evicted token still resolves: %v", err)
	}
	got, err := s.DeviceByToken(ctx(t), []byte("d5"))
	if err != nil || got.ID != "d5" || got.UserID != "u" || !got.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("DeviceByToken = %+v, %v", got, err)
	}
	// Expired sessions go first and do not count.
	late := identity.Device{ID: "late", UserID: "u", CreatedAt: t0.Add(2 * time.Hour), ExpiresAt: t0.Add(3 * time.Hour)}
	ev, err = s.CreateDevice(ctx(t), late, []byte("late"), 5)
	if err != nil || len(ev) != 5 {
		t.Fatalf("login after every session expired evicted %v, %v; want all 5", ev, err)
	}
	// A sign-out deletes one session; the session check sees which exist.
	d6 := identity.Device{ID: "d6", UserID: "u", CreatedAt: t0.Add(2 * time.Hour), ExpiresAt: t0.Add(3 * time.Hour)}
	if _, err := s.CreateDevice(ctx(t), d6, []byte("d6"), 5); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDevice(ctx(t), "d6"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDevice(ctx(t), "d6"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleting a deleted session: %v, want ErrNotFound", err)
	}
	if _, err := s.DeviceByToken(ctx(t), []byte("d6")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a signed-out token still resolves: %v", err)
	}
	live, err := s.ExistingDevices(ctx(t), []string{"late", "d6", "d0", "nope"})
	if err != nil || len(live) != 1 || !live["late"] {
		t.Fatalf("ExistingDevices = %v, %v; want only late", live, err)
	}
}

func testDirect(t *testing.T, s Store) {
	setup(t, s)
	again := conversations.Conversation{ID: "other", Type: conversations.TypeDirect, CreatedBy: "b", CreatedAt: t0, LastActivityAt: t0,
		Members: []conversations.Member{{UserID: "a", Role: "member"}, {UserID: "b", Role: "member"}}}
	c, created, err := s.CreateDirect(ctx(t), again, "a:b")
	if err != nil || created || c.ID != "ab" || len(c.Members) != 2 {
		t.Fatalf("second CreateDirect = %+v created=%v %v", c, created, err)
	}
	if _, err := s.Member(ctx(t), "ab", "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Member(ctx(t), "ab", "z"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Member(non-member) = %v", err)
	}
	list, err := s.ConversationsOf(ctx(t), "b", time.Time{}, time.Time{})
	if err != nil || len(list) != 1 || list[0].ID != "ab" || list[0].LastMessage != nil {
		t.Fatalf("ConversationsOf = %+v, %v", list, err)
	}
}

func testAppend(t *testing.T, s Store) {
	setup(t, s)
	res := mustAppend(t, s, msg("ab", "a", "a1", "1"), msg("ab", "b", "b1", "1"), msg("ab", "a", "a1", "1"))
	if res[0].Message.Seq != 1 || res[1].Message.Seq != 2 || res[0].Duplicate || res[1].Duplicate {
		t.Fatalf("seqs = %d, %d", res[0].Message.Seq, res[1].Message.Seq)
	}
	// The same key in the same batch is a duplicate of the first.
	if !res[2].Duplicate || res[2].Message.ID != res[0].Message.ID || res[2].Message.Seq != 1 {
		t.Fatalf("in-batch duplicate = %+v", res[2])
	}
	if len(res[0].Members) != 2 {
		t.Fatalf("members = %v", res[0].Members)
	}
	// Across batches too, with different content: the original wins.
	dup := msg("ab", "a", "a1", "1")
	dup.ID, dup.Content = "another-id", "changed"
	r := mustAppend(t, s, dup)[0]
	if !r.Duplicate || r.Message.ID != res[0].Message.ID || r.Message.Content != "content 1" || len(r.Members) != 2 {
		t.Fatalf("cross-batch duplicate = %+v (a duplicate carries its members: it is published again)", r)
	}
	r = mustAppend(t, s, msg("ab", "a", "a1", "2"))[0]
	if r.Message.Seq != 3 {
		t.Fatalf("next seq = %d, want 3", r.Message.Seq)
	}
	got, err := s.MessageByID(ctx(t), r.Message.ID)
	if err != nil || got.Seq != 3 || got.SenderDevice != "a1" || got.ClientMessageID != "2" || !got.CreatedAt.Equal(t0) {
		t.Fatalf("MessageByID = %+v, %v", got, err)
	}
	c, err := s.Conversation(ctx(t), "ab")
	if err != nil || c.LastSeq != 3 {
		t.Fatalf("conversation last seq = %d, %v", c.LastSeq, err)
	}
}

func testAppendRefusals(t *testing.T, s Store) {
	setup(t, s)
	mustUser(t, s, "c")
	res, err := s.AppendMessages(ctx(t), []messaging.Message{
		msg("ab", "c", "c1", "x"), msg("nope", "a", "a1", "y"), msg("ab", "a", "a1", "z"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(res[0].Err, messaging.ErrForbidden) || !errors.Is(res[1].Err, messaging.ErrConversationNotFound) {
		t.Fatalf("refusals = %v, %v", res[0].Err, res[1].Err)
	}
	// A refused message uses no sequence number.
	if res[2].Err != nil || res[2].Message.Seq != 1 {
		t.Fatalf("after refusals = %+v", res[2])
	}
}

// A send whose time was read before an earlier-numbered one's (another
// node's clock, or a wait for the lock) is stored no earlier than it, so
// the offline queue, read oldest first, keeps the conversation's order.
// Found by parley chaos: seq 123 was delivered before seq 122.
func testCreatedAtFollowsSeq(t *testing.T, s Store) {
	setup(t, s)
	late := msg("ab", "a", "a1", "late")
	late.CreatedAt = t0.Add(5 * time.Millisecond)
	early := msg("ab", "a", "a1", "early")
	early.CreatedAt = t0
	first := mustAppend(t, s, late)[0].Message
	second := mustAppend(t, s, early)[0].Message
	if second.Seq != first.Seq+1 || second.CreatedAt.Before(first.CreatedAt) {
		t.Fatalf("seq %d at %v after seq %d at %v", second.Seq, second.CreatedAt, first.Seq, first.CreatedAt)
	}
	if got, err := s.MessageByID(ctx(t), second.ID); err != nil || got.CreatedAt.Before(first.CreatedAt) {
		t.Fatalf("stored at %v, %v; want no earlier than %v", got.CreatedAt, err, first.CreatedAt)
	}
	third := msg("ab", "b", "b1", "x")
	third.CreatedAt = t0.Add(time.Hour)
	if got := mustAppend(t, s, third)[0].Message; !got.CreatedAt.Equal(third.CreatedAt) {
		t.Fatalf("a later time moved: %v, want %v", got.CreatedAt, third.CreatedAt)
	}
	page, err := s.Pending(ctx(t), "b1", messaging.PendingCursor{}, 10, messaging.Window{})
	if err != nil || len(page) != 2 || page[0].Seq != first.Seq || page[1].Seq != second.Seq {
		t.Fatalf("pending = %+v, %v; want seq %d then %d", page, err, first.Seq, second.Seq)
	}
}

// A resend of a stored message is published again to the members it was
// for: one added since is not one of them, and one removed since still
// is. Found by parley chaos: a member added again got a resend of a
// message sent while it was out.
func testResendReachesOnlyItsMembers(t *testing.T, s Store) {
	setup(t, s)
	mustUser(t, s, "c")
	mustUser(t, s, "d")
	mustGroup(t, s, "g", 100, "a", "b", "d")
	first := mustAppend(t, s, msg("g", "a", "a1", "k"))[0].Message
	err := s.Update(ctx(t), func(tx conversations.Tx) error {
		if err := tx.AddMember(ctx(t), "g", conversations.Member{UserID: "c", Role: conversations.RoleMember, JoinedAt: t0, JoinedSeq: first.Seq}, 100); err != nil {
			return err
		}
		return tx.RemoveMember(ctx(t), "g", "d", first.Seq+1)
	})
	if err != nil {
		t.Fatal(err)
	}
	again := mustAppend(t, s, msg("g", "a", "a1", "k"))[0]
	if !again.Duplicate || again.Message.ID != first.ID {
		t.Fatalf("resend = %+v", again)
	}
	got := slices.Sorted(slices.Values(again.Members))
	if !slices.Equal(got, []string{"a", "b", "d"}) {
		t.Fatalf("a resend is published to %v, want [a b d]: not c, added after it; d, removed after it, still", got)
	}
}

func testPending(t *testing.T, s Store) {
	setup(t, s)
	for i := range 5 {
		mustAppend(t, s, msg("ab", "a", "a1", fmt.Sprint(i)))
	}
	page, err := s.Pending(ctx(t), "b1", messaging.PendingCursor{}, 3, messaging.Window{})
	if err != nil || len(page) != 3 || page[0].Seq != 1 || page[2].Seq != 3 {
		t.Fatalf("first page = %d msgs, %v", len(page), err)
	}
	last := page[2]
	page, err = s.Pending(ctx(t), "b1", messaging.PendingCursor{CreatedAt: last.CreatedAt, ConversationID: last.ConversationID, Seq: last.Seq}, 3, messaging.Window{})
	if err != nil || len(page) != 2 || page[0].Seq != 4 {
		t.Fatalf("second page = %+v, %v", page, err)
	}
	// The sender's own device does not queue its own messages.
	own, err := s.Pending(ctx(t), "a1", messaging.PendingCursor{}, 10, messaging.Window{})
	if err != nil || len(own) != 0 {
		t.Fatalf("sender's pending = %d, %v", len(own), err)
	}
	// Its cursor moved past them: it had everything before them.
	if cur, err := s.DeviceCursor(ctx(t), "a1", "ab"); err != nil || cur != 5 {
		t.Fatalf("sending device's cursor = %d, %v; want 5", cur, err)
	}
	// Expired messages are not pending.
	none, err := s.Pending(ctx(t), "b1", messaging.PendingCursor{}, 10, messaging.Window{NotBefore: t0.Add(time.Millisecond)})
	if err != nil || len(none) != 0 {
		t.Fatalf("pending with everything expired = %d, %v", len(none), err)
	}
	// b1 acks up to 3: its queue is 4..5; b2's is still 1..5.
	_, errs, err := s.ApplyReceipts(ctx(t), []messaging.ReceiptRequest{{UserID: "b", DeviceID: "b1", Status: wire.StatusDelivered, MessageIDs: []string{last.ID}, At: t0}})
	if err != nil || errs[0] != nil {
		t.Fatal(err, errs)
	}
	b1, _ := s.Pending(ctx(t), "b1", messaging.PendingCursor{}, 10, messaging.Window{})
	b2, _ := s.Pending(ctx(t), "b2", messaging.PendingCursor{}, 10, messaging.Window{})
	if len(b1) != 2 || len(b2) != 5 {
		t.Fatalf("after b1's ack: b1 has %d pending, b2 %d; want 2 and 5", len(b1), len(b2))
	}
	if cur, err := s.DeviceCursor(ctx(t), "b1", "ab"); err != nil || cur != 3 {
		t.Fatalf("b1 cursor = %d, %v", cur, err)
	}
	if _, err := s.DeviceCursor(ctx(t), "b1", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cursor of another conversation = %v", err)
	}
	// A device that logs in later starts where its user stands.
	mustDevice(t, s, "b", "b3")
	b3, _ := s.Pending(ctx(t), "b3", messaging.PendingCursor{}, 10, messaging.Window{})
	if len(b3) != 2 || b3[0].Seq != 4 {
		t.Fatalf("new device pending = %d", len(b3))
	}
	rng, err := s.Range(ctx(t), "b", "ab", 1, 4, messaging.Window{})
	if err != nil || len(rng) != 2 || rng[0].Seq != 2 || rng[1].Seq != 3 {
		t.Fatalf("Range(1,4) = %+v, %v", rng, err)
	}
}

func testStreamStart(t *testing.T, s Store) {
	setup(t, s)
	mustDevice(t, s, "a", "a2")
	start := func(user, device string, notBefore time.Time) messaging.StreamStart {
		t.Helper()
		st, err := s.StreamStart(ctx(t), user, device, messaging.Window{NotBefore: notBefore})
		if err != nil {
			t.Fatalf("StreamStart(%s, %s): %v", user, device, err)
		}
		return st
	}
	if st := start("b", "b1", time.Time{}); st != (messaging.StreamStart{}) {
		t.Fatalf("fresh device: %+v; want nothing", st)
	}
	m := mustAppend(t, s, msg("ab", "a", "a1", "1"))[0].Message
	if st := start("b", "b1", time.Time{}); !st.Pending {
		t.Fatalf("after a message to b: %+v; want pending", st)
	}
	// Its own message is not queued for the device that sent it, but is
	// for the sender's other devices.
	if st := start("a", "a1", time.Time{}); st.Pending {
		t.Fatalf("sending device: %+v; want nothing pending", st)
	}
	if st := start("a", "a2", time.Time{}); !st.Pending {
		t.Fatalf("sender's other device: %+v; want pending", st)
	}
	if st := start("b", "b1", t0.Add(time.Millisecond)); st.Pending {
		t.Fatalf("with the message expired: %+v; want nothing pending", st)
	}
	_, errs, err := s.ApplyReceipts(ctx(t), []messaging.ReceiptRequest{{UserID: "b", DeviceID: "b1", Status: wire.StatusDelivered, MessageIDs: []string{m.ID}, At: t0}})
	if err != nil || errs[0] != nil {
		t.Fatal(err, errs)
	}
	if st := start("b", "b1", time.Time{}); st.Pending {
		t.Fatalf("after b1's ack: %+v; want nothing pending", st)
	}
	if st := start("b", "b2", time.Time{}); !st.Pending {
		t.Fatalf("b2 after b1's ack: %+v; want pending", st)
	}
	// b1's ack is a's receipt event 1, which a1 has not been told of.
	if st := start("a", "a1", time.Time{}); st.ReceiptHead != 1 || st.ReceiptCursor != 0 {
		t.Fatalf("a1 after b's ack: %+v; want head 1, cursor 0", st)
	}
	if err := s.SetReceiptCursor(ctx(t), "a1", 1); err != nil {
		t.Fatal(err)
	}
	if st := start("a", "a1", time.Time{}); st != (messaging.StreamStart{ReceiptCursor: 1, ReceiptHead: 1}) {
		t.Fatalf("a1 told of event 1: %+v", st)
	}
	if st := start("b", "b1", time.Time{}); st.ReceiptHead != 0 {
		t.Fatalf("b's head: %+v; b's messages have no receipts", st)
	}
	if _, err := s.StreamStart(ctx(t), "a", "nope", messaging.Window{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown device: %v, want ErrNotFound", err)
	}
	if _, err := s.StreamStart(ctx(t), "a", "b1", messaging.Window{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another user's device: %v, want ErrNotFound", err)
	}
}

func testReceipts(t *testing.T, s Store) {
	setup(t, s)
	r1 := mustAppend(t, s, msg("ab", "a", "a1", "1"))[0].Message
	mustAppend(t, s, msg("ab", "b", "b1", "1")) // b's own message sits between a's: acks skip it
	r3 := mustAppend(t, s, msg("ab", "a", "a1", "2"))[0].Message

	st, err := s.Statuses(ctx(t), r1)
	if err != nil || len(st) != 1 || st[0].UserID != "b" || st[0].Status != "sent" {
		t.Fatalf("initial statuses = %+v, %v", st, err)
	}
	at := t0.Add(time.Second)
	changes, errs, err := s.ApplyReceipts(ctx(t), []messaging.ReceiptRequest{
		{UserID: "b", DeviceID: "b1", Status: wire.StatusDelivered, MessageIDs: []string{r3.ID}, At: at},
	})
	if err != nil || errs[0] != nil {
		t.Fatal(err, errs[0])
	}
	// Cumulative: acking seq 3 delivers 1 and 3 (a's), not b's own 2.
	if len(changes) != 2 || changes[0].MessageID != r1.ID || changes[1].MessageID != r3.ID ||
		changes[0].SenderID != "a" || changes[0].Status != "delivered" || changes[0].EventID == 0 {
		t.Fatalf("changes = %+v", changes)
	}
	// Acking again changes nothing.
	changes, _, _ = s.ApplyReceipts(ctx(t), []messaging.ReceiptRequest{
		{UserID: "b", DeviceID: "b2", Status: wire.StatusDelivered, MessageIDs: []string{r1.ID}, At: at},
	})
	if len(changes) != 0 {
		t.Fatalf("repeated ack changed %+v", changes)
	}
	// Read implies delivered.
	readAt := t0.Add(2 * time.Second)
	changes, _, _ = s.ApplyReceipts(ctx(t), []messaging.ReceiptRequest{
		{UserID: "b", DeviceID: "b2", Status: wire.StatusRead, ConversationID: "ab", MessageIDs: []string{r1.ID}, At: readAt},
	})
	if len(changes) != 1 || changes[0].Status != "read" || changes[0].MessageID != r1.ID {
		t.Fatalf("read changes = %+v", changes)
	}
	st, _ = s.Statuses(ctx(t), r1)
	if st[0].Status != "read" || !st[0].UpdatedAt.Equal(readAt) {
		t.Fatalf("status of r1 = %+v", st)
	}
	st, _ = s.Statuses(ctx(t), r3)
	if st[0].Status != "delivered" || !st[0].UpdatedAt.Equal(at) {
		t.Fatalf("status of r3 = %+v", st)
	}
	// The sender is told of every change, in order, and can page by event.
	all, err := s.StatusesSince(ctx(t), "a", 0, 100)
	if err != nil || len(all) != 3 {
		t.Fatalf("StatusesSince = %+v, %v", all, err)
	}
	first, _ := s.StatusesSince(ctx(t), "a", 0, 1)
	if len(first) != 2 || first[0].EventID != first[1].EventID {
		t.Fatalf("one event's page = %+v", first)
	}
	rest, _ := s.StatusesSince(ctx(t), "a", first[0].EventID, 100)
	if len(rest) != 1 || rest[0].Status != "read" {
		t.Fatalf("after the first event = %+v", rest)
	}
	if err := s.SetReceiptCursor(ctx(t), "a1", first[0].EventID); err != nil {
		t.Fatal(err)
	}
	if err := s.SetReceiptCursor(ctx(t), "a1", 0); err != nil { // never moves back
		t.Fatal(err)
	}
	if cur, err := s.ReceiptCursor(ctx(t), "a1"); err != nil || cur != first[0].EventID {
		t.Fatalf("receipt cursor = %d, %v", cur, err)
	}
	// Events are numbered per sender, 1, 2, ...; a device that logs in
	// later starts after the last one.
	if first[0].EventID != 1 || rest[0].EventID != 2 {
		t.Fatalf("event numbers = %d, %d", first[0].EventID, rest[0].EventID)
	}
	mustDevice(t, s, "a", "a2")
	if cur, err := s.ReceiptCursor(ctx(t), "a2"); err != nil || cur != 2 {
		t.Fatalf("new device's receipt cursor = %d, %v; want 2", cur, err)
	}
}

// testThousandReceipts commits, in one cycle, a delivery_ack and a
// read_receipt for each of 1,000 messages, one message each, as a device
// acknowledging them one by one would. They coalesce into one cursor move
// per status (one receipt event each), yet the sender is told of every
// message exactly once per change, at commit and when it reads the events
// back, delivered before read.
func testThousandReceipts(t *testing.T, s Store) {
	setup(t, s)
	const n = 1000
	batch := make([]messaging.Message, n)
	for i := range batch {
		batch[i] = msg("ab", "a", "a1", fmt.Sprint(i))
	}
	res := mustAppend(t, s, batch...)
	var receipts []messaging.ReceiptRequest
	for _, r := range res {
		id := r.Message.ID
		receipts = append(receipts,
			messaging.ReceiptRequest{UserID: "b", DeviceID: "b1", Status: wire.StatusDelivered, MessageIDs: []string{id}, At: t0},
			messaging.ReceiptRequest{UserID: "b", DeviceID: "b1", Status: wire.StatusRead, ConversationID: "ab", MessageIDs: []string{id}, At: t0})
	}
	c, err := s.Commit(ctx(t), messaging.Batch{Receipts: receipts})
	if err != nil {
		t.Fatal(err)
	}
	for i, err := range c.Refused {
		if err != nil {
			t.Fatalf("receipt %d refused: %v", i, err)
		}
	}
	check := func(what string, changes []messaging.StatusChange) {
		t.Helper()
		events := map[int64]bool{}
		told := map[string]map[string]int{} // status → message → position
		for i, ch := range changes {
			if ch.SenderID != "a" || ch.RecipientID != "b" || ch.ConversationID != "ab" {
				t.Fatalf("%s: change %+v", what, ch)
			}
			if told[ch.Status] == nil {
				told[ch.Status] = map[string]int{}
			}
			if _, dup := told[ch.Status][ch.MessageID]; dup {
				t.Fatalf("%s: %s told twice for %s", what, ch.Status, ch.MessageID)
			}
			told[ch.Status][ch.MessageID] = i
			events[ch.EventID] = true
		}
		if len(told[wire.StatusDelivered]) != n || len(told[wire.StatusRead]) != n || len(changes) != 2*n {
			t.Fatalf("%s: %d delivered, %d read, %d changes; want %d, %d, %d",
				what, len(told[wire.StatusDelivered]), len(told[wire.StatusRead]), len(changes), n, n, 2*n)
		}
		for _, r := range res {
			if d, rd := told[wire.StatusDelivered][r.Message.ID], told[wire.StatusRead][r.Message.ID]; d >= rd {
				t.Fatalf("%s: message %s told read (change %d) before delivered (change %d)", what, r.Message.ID, rd, d)
			}
		}
		if len(events) != 1 {
			t.Fatalf("%s: %d receipt events; want 1 (the two cursor moves cover the same range)", what, len(events))
		}
	}
	check("at commit", c.Statuses)
	back, err := s.StatusesSince(ctx(t), "a", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	check("read back", back)
	if cur, err := s.DeviceCursor(ctx(t), "b1", "ab"); err != nil || cur != n {
		t.Fatalf("b1's cursor = %d, %v; want %d", cur, err, n)
	}
	if st, _ := s.Statuses(ctx(t), res[n-1].Message); st[0].Status != wire.StatusRead {
		t.Fatalf("last message's status = %+v", st)
	}
}

// testChangesInACycle: membership changes share a cycle with sends. One
// that fails after appending its system message is undone alone (its
// number is not taken); one that succeeds is sequenced before the sends,
// and reaches the members whose window holds its message.
func testChangesInACycle(t *testing.T, s Store) {
	setup(t, s)
	mustUser(t, s, "c")
	mustGroup(t, s, "g", 100, "a", "b")
	sys := func(id string) conversations.SystemMessage {
		return conversations.SystemMessage{ID: id, ConversationID: "g", SenderID: "a", SenderDevice: "a1", Content: "{}", CreatedAt: t0}
	}
	refused := errors.New("refused after appending")
	c, err := s.Commit(ctx(t), messaging.Batch{
		Changes: []func(conversations.Tx) error{
			func(tx conversations.Tx) error {
				if _, err := tx.AppendSystem(ctx(t), sys("undone")); err != nil {
					return err
				}
				return refused
			},
			func(tx conversations.Tx) error {
				seq, err := tx.AppendSystem(ctx(t), sys("added"))
				if err != nil {
					return err
				}
				return tx.AddMember(ctx(t), "g", conversations.Member{UserID: "c", Role: "member", JoinedAt: t0, JoinedSeq: seq}, 100)
			},
		},
		Sends: []messaging.Message{msg("g", "c", "c1", "hello")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(c.Changes[0].Err, refused) || len(c.Changes[0].Messages) != 0 {
		t.Fatalf("failed change = %+v", c.Changes[0])
	}
	added := c.Changes[1]
	if added.Err != nil || len(added.Messages) != 1 || added.Messages[0].Message.Seq != 1 {
		t.Fatalf("change = %+v", added)
	}
	// The new member is not told of its own addition: its window starts after it.
	if got := added.Messages[0].Members; !slices.Equal(slices.Sorted(slices.Values(got)), []string{"a", "b"}) {
		t.Fatalf("system message reaches %v; want a and b", got)
	}
	if r := c.Sends[0]; r.Err != nil || r.Message.Seq != 2 {
		t.Fatalf("send after the change = %+v", r)
	}
	h, err := s.History(ctx(t), "g", messaging.HistoryQuery{Page: messaging.Newest, Limit: 10})
	if err != nil || len(h) != 2 || h[0].ID != "added" || h[1].Seq != 2 {
		t.Fatalf("history = %+v, %v", h, err)
	}
}

func testReceiptRefusal(t *testing.T, s Store) {
	setup(t, s)
	mustUser(t, s, "c")
	mustDevice(t, s, "c", "c1")
	mustDirect(t, s, "bc", "b", "c")
	mine := mustAppend(t, s, msg("ab", "a", "a1", "1"))[0].Message
	theirs := mustAppend(t, s, msg("bc", "c", "c1", "1"))[0].Message
	// One good id and one foreign id: the whole request is refused.
	_, errs, err := s.ApplyReceipts(ctx(t), []messaging.ReceiptRequest{
		{UserID: "a", DeviceID: "a1", Status: wire.StatusDelivered, MessageIDs: []string{mine.ID, theirs.ID}, At: t0},
		{UserID: "b", DeviceID: "b1", Status: wire.StatusRead, ConversationID: "bc", MessageIDs: []string{mine.ID}, At: t0},
		{UserID: "b", DeviceID: "b1", Status: wire.StatusDelivered, MessageIDs: []string{"nope"}, At: t0},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(errs[0], messaging.ErrMessageNotFound) || !errors.Is(errs[1], messaging.ErrNotInConversation) || !errors.Is(errs[2], messaging.ErrMessageNotFound) {
		t.Fatalf("refusals = %v / %v / %v", errs[0], errs[1], errs[2])
	}
	st, _ := s.Statuses(ctx(t), theirs)
	if st[0].Status != "sent" {
		t.Fatalf("refused ack changed c's message: %+v", st)
	}
	if cur, _ := s.DeviceCursor(ctx(t), "b1", "ab"); cur != 0 {
		t.Fatalf("refused read moved b1's cursor to %d", cur)
	}
}

func testHistory(t *testing.T, s Store) {
	setup(t, s)
	for i := range 10 {
		m := msg("ab", "a", "a1", fmt.Sprint(i))
		m.CreatedAt = t0.Add(time.Duration(i) * time.Second)
		mustAppend(t, s, m)
	}
	seqs := func(q messaging.HistoryQuery) []int64 {
		t.Helper()
		msgs, err := s.History(ctx(t), "ab", q)
		if err != nil {
			t.Fatal(err)
		}
		out := []int64{}
		for _, m := range msgs {
			out = append(out, m.Seq)
		}
		return out
	}
	check := func(name string, got []int64, want ...int64) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(append([]int64{}, want...)) {
			t.Fatalf("%s = %v, want %v", name, got, want)
		}
	}
	check("newest 3", seqs(messaging.HistoryQuery{Limit: 3}), 8, 9, 10)
	check("after 2", seqs(messaging.HistoryQuery{Page: messaging.After, Seq: 2, Limit: 3}), 3, 4, 5)
	check("after 0", seqs(messaging.HistoryQuery{Page: messaging.After, Seq: 0, Limit: 2}), 1, 2)
	check("before 4", seqs(messaging.HistoryQuery{Page: messaging.Before, Seq: 4, Limit: 10}), 1, 2, 3)
	check("joined at 6", seqs(messaging.HistoryQuery{Limit: 50, MinSeq: 6}), 7, 8, 9, 10)
	check("after 2, joined at 6", seqs(messaging.HistoryQuery{Page: messaging.After, Seq: 2, Limit: 2, MinSeq: 6}), 7, 8)
	check("expired before 5 s", seqs(messaging.HistoryQuery{Limit: 50, Window: messaging.Window{NotBefore: t0.Add(5 * time.Second)}}), 6, 7, 8, 9, 10)

	list, err := s.ConversationsOf(ctx(t), "b", time.Time{}, time.Time{})
	if err != nil || len(list) != 1 || list[0].Unread != 10 || list[0].LastMessage == nil || list[0].LastMessage.Seq != 10 {
		t.Fatalf("b's list = %+v, %v", list, err)
	}
	list, _ = s.ConversationsOf(ctx(t), "a", time.Time{}, time.Time{})
	if list[0].Unread != 0 {
		t.Fatalf("a's own messages count as unread: %d", list[0].Unread)
	}
}

func testLastSeen(t *testing.T, s Store) {
	mustUser(t, s, "u")
	ls, err := s.LastSeen(ctx(t), "u")
	if err != nil || !ls.IsZero() {
		t.Fatalf("never seen = %v, %v", ls, err)
	}
	if err := s.SetLastSeen(ctx(t), "u", t0); err != nil {
		t.Fatal(err)
	}
	if ls, err := s.LastSeen(ctx(t), "u"); err != nil || !ls.Equal(t0) {
		t.Fatalf("last seen = %v, %v", ls, err)
	}
	if _, err := s.LastSeen(ctx(t), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown user = %v", err)
	}
}

func mustGroup(t *testing.T, s Store, id string, max int, members ...string) {
	t.Helper()
	err := s.Update(ctx(t), func(tx conversations.Tx) error {
		c := conversations.Conversation{ID: id, Type: conversations.TypeGroup, Name: id, CreatedBy: members[0], CreatedAt: t0, LastActivityAt: t0}
		if err := tx.CreateGroup(ctx(t), c); err != nil {
			return err
		}
		for i, u := range members {
			if err := tx.AddMember(ctx(t), id, conversations.Member{UserID: u, Role: "member", JoinedAt: t0.Add(time.Duration(i))}, max); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("create group: %v", err)
	}
}

func testGroupLimit(t *testing.T, s Store) {
	for _, u := range []string{"a", "b", "c", "d"} {
		mustUser(t, s, u)
	}
	mustGroup(t, s, "g", 3, "a", "b", "c")
	err := s.Update(ctx(t), func(tx conversations.Tx) error {
		return tx.AddMember(ctx(t), "g", conversations.Member{UserID: "d", Role: "member", JoinedAt: t0}, 3)
	})
	if !errors.Is(err, conversations.ErrGroupFull) {
		t.Fatalf("fourth member of a 3-group: %v", err)
	}
	// A failed transaction leaves nothing behind.
	c, err := s.Conversation(ctx(t), "g")
	if err != nil || len(c.Members) != 3 {
		t.Fatalf("group after refusal = %d members, %v", len(c.Members), err)
	}
	// Leaving frees a place.
	err = s.Update(ctx(t), func(tx conversations.Tx) error {
		seq, err := tx.AppendSystem(ctx(t), conversations.SystemMessage{ID: "s1", ConversationID: "g", SenderID: "c", SenderDevice: "c1", Content: "{}", CreatedAt: t0})
		if err != nil {
			return err
		}
		if err := tx.RemoveMember(ctx(t), "g", "c", seq); err != nil {
			return err
		}
		return tx.AddMember(ctx(t), "g", conversations.Member{UserID: "d", Role: "member", JoinedAt: t0, JoinedSeq: seq}, 3)
	})
	if err != nil {
		t.Fatalf("replace a member: %v", err)
	}
}

func testMembershipWindow(t *testing.T, s Store) {
	for _, u := range []string{"a", "b"} {
		mustUser(t, s, u)
	}
	mustDevice(t, s, "a", "a1")
	mustDevice(t, s, "b", "b1")
	mustGroup(t, s, "g", 100, "a", "b")
	mustAppend(t, s, msg("g", "a", "a1", "1"), msg("g", "a", "a1", "2"))
	var removedAt int64
	err := s.Update(ctx(t), func(tx conversations.Tx) error {
		var err error
		removedAt, err = tx.AppendSystem(ctx(t), conversations.SystemMessage{ID: "rm", ConversationID: "g", SenderID: "a", SenderDevice: "a1", Content: "{}", CreatedAt: t0})
		if err != nil {
			return err
		}
		return tx.RemoveMember(ctx(t), "g", "b", removedAt)
	})
	if err != nil || removedAt != 3 {
		t.Fatalf("remove at %d: %v", removedAt, err)
	}
	r := mustAppend(t, s, msg("g", "a", "a1", "4"))[0]
	if len(r.Members) != 1 || r.Members[0] != "a" {
		t.Fatalf("fan-out after removal = %v", r.Members)
	}
	if res, _ := s.AppendMessages(ctx(t), []messaging.Message{msg("g", "b", "b1", "x")}); !errors.Is(res[0].Err, messaging.ErrForbidden) {
		t.Fatalf("removed member sends: %v", res[0].Err)
	}
	// b's queue keeps what came before its removal, and nothing after.
	p, _ := s.Pending(ctx(t), "b1", messaging.PendingCursor{}, 10, messaging.Window{})
	if len(p) != 2 || p[1].Seq != 2 {
		t.Fatalf("removed member's queue = %d messages", len(p))
	}
	if rng, _ := s.Range(ctx(t), "b", "g", 0, 10, messaging.Window{}); len(rng) != 2 {
		t.Fatalf("removed member's range = %d messages", len(rng))
	}
	// It may still ack what it received before, not after.
	_, errs, _ := s.ApplyReceipts(ctx(t), []messaging.ReceiptRequest{
		{UserID: "b", DeviceID: "b1", Status: wire.StatusDelivered, MessageIDs: []string{p[1].ID}, At: t0},
		{UserID: "b", DeviceID: "b1", Status: wire.StatusDelivered, MessageIDs: []string{r.Message.ID}, At: t0},
	})
	if errs[0] != nil || !errors.Is(errs[1], messaging.ErrMessageNotFound) {
		t.Fatalf("acks around the removal: %v / %v", errs[0], errs[1])
	}
	if _, err := s.Member(ctx(t), "g", "b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("removed member is still a member: %v", err)
	}
	list, _ := s.ConversationsOf(ctx(t), "b", time.Time{}, time.Time{})
	if len(list) != 0 {
		t.Fatalf("removed member still lists the group")
	}
	// Re-added, b sees only what follows.
	err = s.Update(ctx(t), func(tx conversations.Tx) error {
		seq, err := tx.AppendSystem(ctx(t), conversations.SystemMessage{ID: "add", ConversationID: "g", SenderID: "a", SenderDevice: "a1", Content: "{}", CreatedAt: t0})
		if err != nil {
			return err
		}
		return tx.AddMember(ctx(t), "g", conversations.Member{UserID: "b", Role: "member", JoinedAt: t0, JoinedSeq: seq}, 100)
	})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, msg("g", "a", "a1", "7"))
	p, _ = s.Pending(ctx(t), "b1", messaging.PendingCursor{}, 10, messaging.Window{})
	if len(p) != 1 || p[0].Seq != 6 {
		t.Fatalf("re-added member's queue = %+v", p)
	}
	if rng, _ := s.Range(ctx(t), "b", "g", 0, 10, messaging.Window{}); len(rng) != 1 || rng[0].Seq != 6 {
		t.Fatalf("re-added member's range = %d messages", len(rng))
	}
}

func testExpiry(t *testing.T, s Store) {
	setup(t, s)
	old := msg("ab", "a", "a1", "old")
	acked := msg("ab", "a", "a1", "acked")
	fresh := msg("ab", "a", "a1", "fresh")
	fresh.CreatedAt = t0.Add(time.Hour)
	res := mustAppend(t, s, old, acked, fresh)
	if _, _, changes, err := s.ExpireMessages(ctx(t), t0, t0, 10); err != nil || len(changes) != 0 {
		t.Fatalf("nothing is older than t0: %v, %v", changes, err)
	}
	now := t0.Add(2 * time.Hour)
	n, bytes, changes, err := s.ExpireMessages(ctx(t), t0.Add(time.Minute), now, 1)
	if err != nil || n != 1 || bytes != int64(len(old.Content)) || len(changes) != 1 {
		t.Fatalf("first batch: %d, %d bytes, %+v, %v", n, bytes, changes, err)
	}
	c := changes[0]
	if c.SenderID != "a" || c.RecipientID != "b" || c.Status != wire.StatusExpired || c.MessageID != res[0].Message.ID || c.EventID == 0 {
		t.Fatalf("expiry change = %+v", c)
	}
	// The second message reaches b before it expires: no expiry status.
	_, errs, err := s.ApplyReceipts(ctx(t), []messaging.ReceiptRequest{
		{UserID: "b", DeviceID: "b1", Status: wire.StatusDelivered, MessageIDs: []string{res[1].Message.ID}, At: t0},
	})
	if err != nil || errs[0] != nil {
		t.Fatal(err, errs)
	}
	n, _, changes, err = s.ExpireMessages(ctx(t), t0.Add(time.Minute), now, 10)
	if err != nil || n != 1 || len(changes) != 0 {
		t.Fatalf("second batch: %d, %+v, %v", n, changes, err)
	}
	// Run again: nothing left, nothing recorded twice.
	if n, _, changes, _ := s.ExpireMessages(ctx(t), t0.Add(time.Minute), now, 10); n != 0 || len(changes) != 0 {
		t.Fatalf("third batch: %d, %+v", n, changes)
	}
	// The sender reads the expiry though the message row is gone.
	all, err := s.StatusesSince(ctx(t), "a", 0, 100)
	var expired []messaging.StatusChange
	for _, c := range all {
		if c.Status == wire.StatusExpired {
			expired = append(expired, c)
		}
	}
	if err != nil || len(expired) != 1 || expired[0].MessageID != res[0].Message.ID {
		t.Fatalf("StatusesSince = %+v, %v", all, err)
	}
	if _, err := s.MessageByID(ctx(t), res[0].Message.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired message still readable: %v", err)
	}
	if _, err := s.MessageByID(ctx(t), res[2].Message.ID); err != nil {
		t.Fatalf("fresh message gone: %v", err)
	}
	// The fresh one is pending for b2 (b1 acked up to seq 2).
	if oldest, ok, err := s.OldestPending(ctx(t)); err != nil || !ok || !oldest.Equal(fresh.CreatedAt) {
		t.Fatalf("oldest pending = %v %v %v", oldest, ok, err)
	}
	if n, err := s.DeleteReceiptEvents(ctx(t), now.Add(time.Second), 100); err != nil || n == 0 {
		t.Fatalf("delete receipt events: %d, %v", n, err)
	}
	if n, err := s.DeleteExpiredDevices(ctx(t), t0.Add(2*time.Hour), 100); err != nil || n != 3 {
		t.Fatalf("delete expired sessions: %d, %v", n, err)
	}
	if _, err := s.DeviceByToken(ctx(t), []byte("token-a1")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired session still resolves: %v", err)
	}
	if err := s.Reclaim(ctx(t)); err != nil {
		t.Fatal(err)
	}
}

func testPresenceSettings(t *testing.T, s Store) {
	setup(t, s)
	mustUser(t, s, "c")
	mustGroup(t, s, "g", 100, "a", "b", "c")
	st, err := s.PresenceSettings(ctx(t), "a")
	if err != nil || st.LastSeen != presence.Everyone || st.Online != presence.Everyone {
		t.Fatalf("defaults = %+v, %v", st, err)
	}
	if err := s.SetPresenceSettings(ctx(t), "a", presence.Settings{LastSeen: presence.Nobody, Online: presence.Contacts}); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.PresenceSettings(ctx(t), "a"); st.LastSeen != presence.Nobody || st.Online != presence.Contacts {
		t.Fatalf("after set = %+v", st)
	}
	if _, err := s.PresenceSettings(ctx(t), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	if _, _, err := s.PresenceView(ctx(t), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("PresenceView of an unknown user: %v", err)
	}
	// A contact is chosen: a 1:1's creator chose the other member, who
	// chooses it back by writing. Sharing a group is nothing.
	contacts := func(want string) {
		t.Helper()
		for _, user := range []string{"a", "b", "c"} {
			got, err := s.Contacts(ctx(t), user)
			if err != nil {
				t.Fatal(err)
			}
			// The connect's one round trip says the same, with the
			// settings.
			st, view, err := s.PresenceView(ctx(t), user)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(view) != fmt.Sprint(got) {
				t.Fatalf("PresenceView(%s) contacts = %+v, Contacts = %+v", user, view, got)
			}
			if want, _ := s.PresenceSettings(ctx(t), user); st != want {
				t.Fatalf("PresenceView(%s) settings = %+v, want %+v", user, st, want)
			}
			line := fmt.Sprintf("%s chose %v, chosen by %v", user, got.Chosen, got.ChosenBy)
			if !strings.Contains(want, line) {
				t.Fatalf("%s; want one of:\n%s", line, want)
			}
		}
	}
	contacts("a chose [b], chosen by []\nb chose [], chosen by [a]\nc chose [], chosen by []")
	mustAppend(t, s, msg("ab", "a", "a1", "creator writes"))
	contacts("a chose [b], chosen by []\nb chose [], chosen by [a]\nc chose [], chosen by []")
	res := mustAppend(t, s, msg("ab", "b", "b1", "reply"), msg("ab", "b", "b1", "again"))
	if res[0].NewContact != "a" || res[1].NewContact != "" {
		t.Fatalf("NewContact of the first reply and the next = %q, %q; want a, none", res[0].NewContact, res[1].NewContact)
	}
	contacts("a chose [b], chosen by [b]\nb chose [a], chosen by [a]\nc chose [], chosen by []")
	if res := mustAppend(t, s, msg("ab", "b", "b2", "later")); res[0].NewContact != "" {
		t.Fatalf("a later reply reports NewContact %q", res[0].NewContact)
	}
}

func testCommitBoth(t *testing.T, s Store) {
	setup(t, s)
	first := mustAppend(t, s, msg("ab", "a", "a1", "1"))[0].Message
	c, err := s.Commit(ctx(t), messaging.Batch{
		Sends: []messaging.Message{msg("ab", "b", "b1", "reply"), msg("ab", "z", "z1", "intruder")},
		Receipts: []messaging.ReceiptRequest{
			{UserID: "b", DeviceID: "b1", Status: wire.StatusRead, ConversationID: "ab", MessageIDs: []string{first.ID}, At: t0},
			{UserID: "b", DeviceID: "b1", Status: wire.StatusDelivered, MessageIDs: []string{"nope"}, At: t0},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Sends[0].Err != nil || c.Sends[0].Message.Seq != 2 || !errors.Is(c.Sends[1].Err, messaging.ErrForbidden) {
		t.Fatalf("sends = %+v", c.Sends)
	}
	if c.Refused[0] != nil || len(c.Statuses) != 1 || c.Statuses[0].Status != "read" || !errors.Is(c.Refused[1], messaging.ErrMessageNotFound) {
		t.Fatalf("receipts = %+v / %v", c.Statuses, c.Refused)
	}
	if st, _ := s.Statuses(ctx(t), first); st[0].Status != "read" {
		t.Fatalf("status after the combined commit = %+v", st)
	}
}
