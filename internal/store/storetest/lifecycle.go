package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/conversations"
	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/wire"
)

// testDisappearing: a message committed after the setting is on carries
// expires_at = created_at + seconds, one before does not; reads hide it
// at expires_at, before any sweep; the expiry deletes it with its
// reactions, hidden marks and pins, and tells its sender of the
// recipients that never got it.
func testDisappearing(t *testing.T, s Store) {
	setup(t, s)
	before := mustAppend(t, s, msg("ab", "a", "a1", "before"))[0].Message
	if err := s.Update(ctx(t), func(tx conversations.Tx) error {
		return tx.SetDisappearing(ctx(t), "ab", 86400)
	}); err != nil {
		t.Fatal(err)
	}
	if c, err := s.Conversation(ctx(t), "ab"); err != nil || c.DisappearSeconds != 86400 {
		t.Fatalf("conversation = %+v, %v; want disappear 86400", c.DisappearSeconds, err)
	}
	res := mustAppend(t, s, msg("ab", "a", "a1", "after"), msg("ab", "b", "b1", "reply"))
	after := res[0].Message
	day := 24 * time.Hour
	if !before.ExpiresAt.IsZero() || !after.ExpiresAt.Equal(t0.Add(day)) || !res[1].Message.ExpiresAt.Equal(t0.Add(day)) {
		t.Fatalf("expires_at: before %v, after %v; want none, then %v", before.ExpiresAt, after.ExpiresAt, t0.Add(day))
	}
	if got, err := s.MessageByID(ctx(t), after.ID); err != nil || !got.ExpiresAt.Equal(t0.Add(day)) {
		t.Fatalf("stored expires_at = %v, %v", got.ExpiresAt, err)
	}
	if err := s.Update(ctx(t), func(tx conversations.Tx) error {
		return tx.Pin(ctx(t), "ab", after.ID, "a", t0)
	}); err != nil {
		t.Fatal(err)
	}

	atExpiry := messaging.Window{Now: t0.Add(day)}
	justBefore := messaging.Window{Now: t0.Add(day - time.Millisecond)}
	hist := func(w messaging.Window) int {
		t.Helper()
		msgs, err := s.History(ctx(t), "ab", messaging.HistoryQuery{Limit: 50, Viewer: "b", Window: w})
		if err != nil {
			t.Fatal(err)
		}
		return len(msgs)
	}
	if n := hist(justBefore); n != 3 {
		t.Fatalf("history just before expiry: %d messages, want 3", n)
	}
	if n := hist(atExpiry); n != 1 {
		t.Fatalf("history at expiry: %d messages, want the one sent before the setting", n)
	}
	if p, err := s.Pending(ctx(t), "b2", messaging.PendingCursor{}, 10, atExpiry); err != nil || len(p) != 1 || p[0].ID != before.ID {
		t.Fatalf("b2's queue at expiry = %+v, %v; want the first message only", p, err)
	}
	if r, err := s.Range(ctx(t), "b", "ab", 0, 10, atExpiry); err != nil || len(r) != 1 {
		t.Fatalf("Range at expiry = %d, %v; want 1", len(r), err)
	}
	list, err := s.ConversationsOf(ctx(t), "b", time.Time{}, t0.Add(day))
	if err != nil || len(list) != 1 || list[0].LastMessage == nil || list[0].LastMessage.ID != before.ID || list[0].Unread != 1 {
		t.Fatalf("list at expiry = %+v, %v; want the first message as last, 1 unread", list, err)
	}

	// Not yet: a sweep a millisecond early deletes nothing.
	if n, _, _, err := s.ExpireMessages(ctx(t), time.Time{}, t0.Add(day-time.Millisecond), 10); err != nil || n != 0 {
		t.Fatalf("early sweep: %d, %v", n, err)
	}
	n, _, changes, err := s.ExpireMessages(ctx(t), time.Time{}, t0.Add(day), 10)
	if err != nil || n != 2 {
		t.Fatalf("sweep at expiry: %d, %v; want 2", n, err)
	}
	// Neither reached its recipient: each sender hears "expired".
	if len(changes) != 2 || changes[0].Status != wire.StatusExpired || changes[1].Status != wire.StatusExpired {
		t.Fatalf("statuses = %+v, want two expiries", changes)
	}
	if _, err := s.MessageByID(ctx(t), after.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired message still stored: %v", err)
	}
	if c, _ := s.Conversation(ctx(t), "ab"); len(c.Pinned) != 0 {
		t.Fatalf("pins = %v, want the expired one gone", c.Pinned)
	}
	if _, err := s.MessageByID(ctx(t), before.ID); err != nil {
		t.Fatalf("message sent before the setting: %v", err)
	}
}

// testForwards: a forward counts its source's hops plus one; a source the
// sender cannot see is refused; one forwarded many times goes to one
// chat at a time, in the same cycle or a later one.
func testForwards(t *testing.T, s Store) {
	setup(t, s)
	mustUser(t, s, "c")
	mustDirect(t, s, "ac", "a", "c")
	mustDirect(t, s, "bc", "b", "c")
	src := mustAppend(t, s, msg("ab", "b", "b1", "src"))[0].Message

	fwd := msg("ac", "a", "a1", "fwd")
	fwd.ForwardOf = src.ID
	got := mustAppend(t, s, fwd)[0].Message
	if got.Forwarded != 1 {
		t.Fatalf("forwarded = %d, want 1", got.Forwarded)
	}
	if stored, err := s.MessageByID(ctx(t), got.ID); err != nil || stored.Forwarded != 1 {
		t.Fatalf("stored forwarded = %d, %v", stored.Forwarded, err)
	}
	// c is not in ab: it cannot forward what it has not seen.
	bad := msg("bc", "c", "c1", "steal")
	bad.ForwardOf = src.ID
	if res, err := s.AppendMessages(ctx(t), []messaging.Message{bad}); err != nil || !errors.Is(res[0].Err, messaging.ErrBadForward) {
		t.Fatalf("forward of an unseen message: %v, %v; want ErrBadForward", res, err)
	}

	// A message forwarded many times: one forward per 10 s, in one cycle
	// or across cycles.
	// Forwarded five times, hop by hop: each forward's count is its
	// source's plus one.
	prev := src.ID
	for i := range wire.ForwardedManyTimes - 1 {
		m := msg("ab", "b", "b1", "hop-"+string(rune('0'+i)))
		m.ForwardOf = prev
		r := mustAppend(t, s, m)[0].Message
		if r.Forwarded != i+1 {
			t.Fatalf("hop %d: forwarded = %d", i, r.Forwarded)
		}
		prev = r.ID
	}
	m := msg("ab", "b", "b1", "many")
	m.ID, m.ForwardOf = "m-many", prev
	if r := mustAppend(t, s, m)[0].Message; r.Forwarded != wire.ForwardedManyTimes {
		t.Fatalf("forwarded = %d, want %d", r.Forwarded, wire.ForwardedManyTimes)
	}
	one, two := msg("ac", "a", "a1", "many-1"), msg("ab", "a", "a1", "many-2")
	one.ForwardOf, two.ForwardOf = "m-many", "m-many"
	res, err := s.AppendMessages(ctx(t), []messaging.Message{one, two})
	if err != nil || res[0].Err != nil || res[0].Message.Forwarded != wire.ForwardedManyTimes+1 {
		t.Fatalf("first forward: %+v, %v", res, err)
	}
	var retry interface{ RetryAfter() time.Duration }
	if !errors.Is(res[1].Err, messaging.ErrForwardTooOften) || !errors.As(res[1].Err, &retry) || retry.RetryAfter() != messaging.ForwardWindow {
		t.Fatalf("second forward in the same cycle: %v; want ErrForwardTooOften after 10 s", res[1].Err)
	}
	three := msg("ab", "a", "a1", "many-3")
	three.ForwardOf, three.CreatedAt = "m-many", t0.Add(4*time.Second)
	res, _ = s.AppendMessages(ctx(t), []messaging.Message{three})
	if !errors.As(res[0].Err, &retry) || retry.RetryAfter() != 6*time.Second {
		t.Fatalf("forward 4 s later: %v; want a 6 s wait", res[0].Err)
	}
	three.CreatedAt = t0.Add(messaging.ForwardWindow)
	if res, _ = s.AppendMessages(ctx(t), []messaging.Message{three}); res[0].Err != nil {
		t.Fatalf("forward 10 s later: %v", res[0].Err)
	}
}
