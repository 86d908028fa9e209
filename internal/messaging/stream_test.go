package messaging_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/conversations"
	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/internal/store/sqlstore"
	"github.com/parleychat/parley/wire"
)

// The stream's whole risk is the store's answers, so it is tested over a
// real committer and real stores: SQLite, and PostgreSQL where one runs
// (skipped like the store's own PostgreSQL tests otherwise).

// backends opens a fresh store of each engine.
var backends = []struct {
	name string
	open func(t *testing.T) *sqlstore.Store
}{
	{"sqlite", func(t *testing.T) *sqlstore.Store {
		s, err := sqlstore.Open(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
	{"postgres", func(t *testing.T) *sqlstore.Store {
		s, err := sqlstore.OpenPostgres(context.Background(), apptest.Postgres(t), sqlstore.PostgresOptions{AppName: "parley-test"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
}

// countingStore counts the store's queries other than commits: a
// connect's round trips.
type countingStore struct {
	messaging.Store
	queries atomic.Int64
}

func (s *countingStore) MessageByID(ctx context.Context, id string) (messaging.Message, error) {
	s.queries.Add(1)
	return s.Store.MessageByID(ctx, id)
}

func (s *countingStore) History(ctx context.Context, conv string, q messaging.HistoryQuery) ([]messaging.Message, error) {
	s.queries.Add(1)
	return s.Store.History(ctx, conv, q)
}

func (s *countingStore) Pending(ctx context.Context, device string, cur messaging.PendingCursor, limit int, w messaging.Window) ([]messaging.Message, error) {
	s.queries.Add(1)
	return s.Store.Pending(ctx, device, cur, limit, w)
}

func (s *countingStore) Range(ctx context.Context, user, conv string, after, before int64, w messaging.Window) ([]messaging.Message, error) {
	s.queries.Add(1)
	return s.Store.Range(ctx, user, conv, after, before, w)
}

func (s *countingStore) DeviceCursor(ctx context.Context, device, conv string) (int64, error) {
	s.queries.Add(1)
	return s.Store.DeviceCursor(ctx, device, conv)
}

func (s *countingStore) StatusesSince(ctx context.Context, user string, after int64, limit int) ([]messaging.StatusChange, error) {
	s.queries.Add(1)
	return s.Store.StatusesSince(ctx, user, after, limit)
}

func (s *countingStore) ReceiptCursor(ctx context.Context, device string) (int64, error) {
	s.queries.Add(1)
	return s.Store.ReceiptCursor(ctx, device)
}

func (s *countingStore) StreamStart(ctx context.Context, user, device string, w messaging.Window) (messaging.StreamStart, error) {
	s.queries.Add(1)
	return s.Store.StreamStart(ctx, user, device, w)
}

func (s *countingStore) SetReceiptCursor(ctx context.Context, device string, id int64) error {
	s.queries.Add(1)
	return s.Store.SetReceiptCursor(ctx, device, id)
}

func (s *countingStore) Statuses(ctx context.Context, m messaging.Message) ([]messaging.RecipientStatus, error) {
	s.queries.Add(1)
	return s.Store.Statuses(ctx, m)
}

// message is the published event of a conversation's message seq
// (recorder is committer_test.go's Publisher).
func (p *recorder) message(t *testing.T, conv string, seq int64) *bus.Event {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ev := range p.events {
		if ev.Kind == bus.KindMessage && ev.ConversationID == conv && ev.Seq == seq {
			return ev
		}
	}
	t.Fatalf("no message %d of %s published", seq, conv)
	return nil
}

// statuses are the receipt events published, in order.
func (p *recorder) statuses() []*bus.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*bus.Event
	for _, ev := range p.events {
		if ev.Kind == bus.KindStatus {
			out = append(out, ev)
		}
	}
	return out
}

// frames is a FrameWriter that keeps what it is given; with err set it
// fails once it holds failAfter frames.
type frames struct {
	got       [][]byte
	err       error
	failAfter int
}

func (f *frames) WriteFrame(b []byte) error {
	if f.err != nil && len(f.got) >= f.failAfter {
		return f.err
	}
	f.got = append(f.got, b)
	return nil
}

func (f *frames) WriteMessage(m wire.Message) error { return f.WriteFrame(wire.Encode(m)) }
func (f *frames) WriteStatus(s wire.Status) error   { return f.WriteFrame(wire.Encode(s)) }

type frame struct {
	Type      string `json:"type"`
	MessageID string `json:"message_id"`
	SenderID  string `json:"sender_id"`
	Seq       int64  `json:"sequence_number"`
	UserID    string `json:"user_id"`
	Status    string `json:"status"`
}

func (f *frames) decoded(t *testing.T) []frame {
	t.Helper()
	out := make([]frame, len(f.got))
	for i, b := range f.got {
		if err := json.Unmarshal(b, &out[i]); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	return out
}

// seqs are the sequence numbers of the message frames.
func (f *frames) seqs(t *testing.T) []int64 {
	var out []int64
	for _, fr := range f.decoded(t) {
		if fr.Type == wire.TypeMessage {
			out = append(out, fr.Seq)
		}
	}
	return out
}

// statuses are the status frames as "message user status".
func (f *frames) statuses(t *testing.T) []string {
	var out []string
	for _, fr := range f.decoded(t) {
		if fr.Type == wire.TypeStatus {
			out = append(out, fr.MessageID+" "+fr.UserID+" "+fr.Status)
		}
	}
	return out
}

// harness is a messaging service over a real store: users a, b and c;
// devices a1, a2, b1, b2, c1; 1:1s "ab" and "bc".
type harness struct {
	clock *clock.Fake
	store *countingStore
	pub   *recorder
	c     *messaging.Committer
	svc   *messaging.Service
	gaps  atomic.Int64
}

func newHarness(t *testing.T, st *sqlstore.Store) *harness {
	t.Helper()
	ctx := context.Background()
	for _, u := range []string{"a", "b", "c"} {
		if err := st.CreateUser(ctx, identity.User{ID: u, Username: "user-" + u, DisplayName: u, CreatedAt: t0}, "h"); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"a1", "a2", "b1", "b2", "c1"} {
		dev := identity.Device{ID: d, UserID: d[:1], CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), LastUsedAt: t0}
		if _, err := st.CreateDevice(ctx, dev, []byte("token-"+d), 5); err != nil {
			t.Fatal(err)
		}
	}
	for _, pair := range [][2]string{{"a", "b"}, {"b", "c"}} {
		c := conversations.Conversation{ID: pair[0] + pair[1], Type: conversations.TypeDirect, CreatedBy: pair[0], CreatedAt: t0, LastActivityAt: t0,
			Members: []conversations.Member{{UserID: pair[0], Role: conversations.RoleMember, JoinedAt: t0}, {UserID: pair[1], Role: conversations.RoleMember, JoinedAt: t0}}}
		if _, _, err := st.CreateDirect(ctx, c, pair[0]+":"+pair[1]); err != nil {
			t.Fatal(err)
		}
	}
	h := &harness{clock: clock.NewFake(t0), store: &countingStore{Store: st}, pub: &recorder{}}
	h.c = messaging.NewCommitter(h.store, h.pub, h.clock, messaging.Config{Retention: time.Hour, MaxBatch: 64}, slog.New(slog.DiscardHandler), nil)
	done := make(chan error, 1)
	go func() { done <- h.c.Run(ctx) }()
	t.Cleanup(func() {
		h.c.Close()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	h.svc = messaging.NewService(h.c, nil)
	h.svc.GapFilled = func() { h.gaps.Add(1) }
	return h
}

// eachBackend runs fn over a fresh harness on every store engine.
func eachBackend(t *testing.T, fn func(t *testing.T, h *harness)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, newHarness(t, b.open(t))) })
	}
}

func (h *harness) send(t *testing.T, conv, device, cmid string) messaging.Message {
	t.Helper()
	m := messaging.Message{ConversationID: conv, SenderID: device[:1], SenderDevice: device, ClientMessageID: cmid, Type: "text", Content: "x " + cmid}
	r, err := h.c.Send(context.Background(), m)
	if err != nil {
		t.Fatalf("send %s from %s: %v", cmid, device, err)
	}
	return r.Message
}

func (h *harness) receipt(t *testing.T, device, status string, ids ...string) {
	t.Helper()
	r := messaging.ReceiptRequest{UserID: device[:1], DeviceID: device, Status: status, MessageIDs: ids}
	if err := h.c.Receipt(context.Background(), r); err != nil {
		t.Fatalf("%s of %v by %s: %v", status, ids, device, err)
	}
}

// sync opens a stream for device, syncs it and saves its cursors as a
// device that read all of it would have them (Close with the Mark after
// the sync; the stream stays usable). It returns what it wrote and how
// many store queries that took.
func (h *harness) sync(t *testing.T, device string) (*messaging.Stream, *frames, int64) {
	t.Helper()
	st := h.svc.OpenStream(device[:1], device)
	w := &frames{}
	before := h.store.queries.Load()
	if err := st.Sync(context.Background(), w); err != nil {
		t.Fatalf("sync %s: %v", device, err)
	}
	st.Close(context.Background(), st.Mark())
	return st, w, h.store.queries.Load() - before
}

func (h *harness) deliver(t *testing.T, st *messaging.Stream, ev *bus.Event) []byte {
	t.Helper()
	w := &frames{}
	if err := st.Deliver(context.Background(), ev, w); err != nil {
		t.Fatalf("deliver: %v", err)
	}
	return slices.Concat(w.got...)
}

// TestStreamSyncQueue: a queue longer than a page comes out whole and in
// order; a device's own messages are not in its queue but are in its
// user's other devices'; what Sync wrote is not delivered again live.
func TestStreamSyncQueue(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		const n = messaging.SyncPage + 40
		var wg sync.WaitGroup
		ownSeqs := map[int64]bool{}
		var mu sync.Mutex
		// Submitted in order by one caller, so sequenced in that order.
		for i := range n {
			device := "a1"
			if i%100 == 50 {
				device = "b1"
			}
			m := messaging.Message{ConversationID: "ab", SenderID: device[:1], SenderDevice: device, ClientMessageID: fmt.Sprint(i), Type: "text", Content: "x"}
			wg.Add(1)
			if err := h.c.Submit(context.Background(), m, func(r messaging.AppendResult) {
				defer wg.Done()
				if r.Err != nil {
					t.Error(r.Err)
					return
				}
				if r.Message.SenderDevice == "b1" {
					mu.Lock()
					ownSeqs[r.Message.Seq] = true
					mu.Unlock()
				}
			}); err != nil {
				t.Fatal(err)
			}
		}
		wg.Wait()

		var want, wantB1 []int64
		for s := int64(1); s <= n; s++ {
			want = append(want, s)
			if !ownSeqs[s] {
				wantB1 = append(wantB1, s)
			}
		}
		st, b1, queries := h.sync(t, "b1")
		if got := b1.seqs(t); !slices.Equal(got, wantB1) {
			t.Fatalf("b1 synced %d messages %v…; want %d, its own %v left out", len(got), got[:min(len(got), 10)], len(wantB1), ownSeqs)
		}
		// StreamStart, then a full page of the queue and the rest.
		if queries != 3 {
			t.Errorf("b1's sync took %d queries; want 3", queries)
		}
		_, b2, _ := h.sync(t, "b2")
		if got := b2.seqs(t); !slices.Equal(got, want) {
			t.Fatalf("b2 synced %d messages; want all %d in order", len(got), n)
		}
		if got := h.deliver(t, st, h.pub.message(t, "ab", n)); got != nil {
			t.Fatalf("the last synced message was delivered again: %d bytes written", len(got))
		}
	})
}

// TestStreamCheapConnect: a device with nothing to catch up costs one
// query; missed statuses are written, and the cursor saved once read.
func TestStreamCheapConnect(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		if _, w, q := h.sync(t, "b1"); len(w.got) != 0 || q != 1 {
			t.Fatalf("fresh device: %d frames, %d queries; want none and 1", len(w.got), q)
		}
		m := h.send(t, "ab", "a1", "1")
		h.receipt(t, "b1", wire.StatusDelivered, m.ID)
		if _, w, q := h.sync(t, "b1"); len(w.got) != 0 || q != 1 {
			t.Fatalf("b1 after its ack: %d frames, %d queries; want none and 1", len(w.got), q)
		}
		// a1 sent the message (nothing queued) and missed b's receipt:
		// StreamStart, StatusesSince, SetReceiptCursor.
		_, w, q := h.sync(t, "a1")
		if got := w.statuses(t); !slices.Equal(got, []string{m.ID + " b delivered"}) || len(w.got) != 1 || q != 3 {
			t.Fatalf("a1: frames %q, %d queries; want the one status and 3", got, q)
		}
		if _, w, q := h.sync(t, "a1"); len(w.got) != 0 || q != 1 {
			t.Fatalf("a1 again: %d frames, %d queries; want none and 1", len(w.got), q)
		}
	})
}

// TestStreamDeliverMessages: live messages come in order without gaps or
// repeats, a device's own are not echoed but move it on, and a
// conversation it is not in is not delivered.
func TestStreamDeliverMessages(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		b1, _, _ := h.sync(t, "b1")
		a1, _, _ := h.sync(t, "a1")
		c1, _, _ := h.sync(t, "c1")
		for i := range 4 {
			h.send(t, "ab", "a1", fmt.Sprint(i))
		}
		w := &frames{}
		deliver := func(st *messaging.Stream, seq int64) {
			t.Helper()
			if err := st.Deliver(context.Background(), h.pub.message(t, "ab", seq), w); err != nil {
				t.Fatal(err)
			}
		}
		deliver(b1, 1)
		deliver(b1, 1)
		deliver(b1, 4) // 2 and 3 are read from the store first
		deliver(b1, 3)
		deliver(b1, 4)
		if got := w.seqs(t); !slices.Equal(got, []int64{1, 2, 3, 4}) || len(w.got) != 4 {
			t.Fatalf("b1 got %v; want 1 2 3 4 once each", got)
		}
		if g := h.gaps.Load(); g != 1 {
			t.Fatalf("%d gaps filled; want 1", g)
		}

		// a1 is told of b's message, not of its own, and the one after
		// its own follows on without a gap to fill.
		w.got = nil
		h.send(t, "ab", "b1", "b5")
		h.send(t, "ab", "a1", "a6")
		h.send(t, "ab", "b1", "b7")
		deliver(a1, 5)
		deliver(a1, 6)
		deliver(a1, 7)
		if got := w.seqs(t); !slices.Equal(got, []int64{5, 7}) {
			t.Fatalf("a1 got %v; want 5 and 7", got)
		}
		if g := h.gaps.Load(); g != 1 {
			t.Fatalf("%d gaps filled; want still 1: a1's own message moved it on", g)
		}
		// A gap read from the store leaves out a1's own message too.
		w.got = nil
		h.send(t, "ab", "b1", "b8")
		h.send(t, "ab", "a1", "a9")
		h.send(t, "ab", "b1", "b10")
		deliver(a1, 10)
		if got := w.seqs(t); !slices.Equal(got, []int64{8, 10}) {
			t.Fatalf("a1 got %v; want 8 and 10", got)
		}

		w.got = nil
		deliver(c1, 7) // c is not a member of ab
		presence := &bus.Event{Kind: bus.KindPresence, Presence: &wire.Presence{Type: wire.TypePresence}}
		if err := b1.Deliver(context.Background(), presence, w); err != nil {
			t.Fatal(err)
		}
		if len(w.got) != 0 {
			t.Fatalf("wrote %q; want nothing for a non-member and for presence", w.got)
		}
	})
}

// TestStreamDeliverStatuses: receipt events delivered out of order and
// with some skipped come out in event order, each once; Close saves the
// cursor so the next connect repeats nothing; a device that was away gets
// them on Sync, after its queue.
func TestStreamDeliverStatuses(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		var ids []string
		for i := range 3 {
			ids = append(ids, h.send(t, "ab", "a1", fmt.Sprint(i)).ID)
		}
		a1, _, _ := h.sync(t, "a1")
		h.receipt(t, "b1", wire.StatusDelivered, ids[0])
		h.receipt(t, "b1", wire.StatusDelivered, ids[1])
		h.receipt(t, "b2", wire.StatusRead, ids[2])
		evs := h.pub.statuses()
		last := evs[len(evs)-1].ReceiptID
		if len(evs) < 3 || last != int64(len(evs)) {
			t.Fatalf("%d status events, the last %d; want at least 3 numbered 1..n", len(evs), last)
		}
		changes, err := h.store.Store.StatusesSince(context.Background(), "a", 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, ch := range changes {
			want = append(want, ch.MessageID+" "+ch.RecipientID+" "+ch.Status)
		}

		w := &frames{}
		order := []*bus.Event{evs[len(evs)-1], evs[0], evs[1], evs[len(evs)-1]}
		order = append(order, evs...)
		for _, ev := range order {
			if err := a1.Deliver(context.Background(), ev, w); err != nil {
				t.Fatal(err)
			}
		}
		if got := w.statuses(t); !slices.Equal(got, want) {
			t.Fatalf("a1 got\n%q\nwant\n%q", got, want)
		}
		if g := h.gaps.Load(); g != 1 {
			t.Fatalf("%d gaps filled; want 1", g)
		}

		// Closing with its context ended still saves the cursor.
		ended, cancel := context.WithCancel(context.Background())
		cancel()
		a1.Close(ended, a1.Mark())
		if cur, err := h.store.Store.ReceiptCursor(context.Background(), "a1"); err != nil || cur != last {
			t.Fatalf("a1's receipt cursor = %d, %v; want %d", cur, err, last)
		}
		if _, w, q := h.sync(t, "a1"); len(w.got) != 0 || q != 1 {
			t.Fatalf("a1 reconnecting: %d frames, %d queries; want none and 1", len(w.got), q)
		}

		// a2 was away: a's messages from a1, then every status.
		_, a2, _ := h.sync(t, "a2")
		if got := a2.seqs(t); !slices.Equal(got, []int64{1, 2, 3}) {
			t.Fatalf("a2 synced messages %v; want 1 2 3", got)
		}
		if got := a2.statuses(t); !slices.Equal(got, want) || len(a2.got) != 3+len(want) || a2.decoded(t)[2].Type != wire.TypeMessage {
			t.Fatalf("a2 synced statuses %q; want %q after the messages", got, want)
		}
		if cur, err := h.store.Store.ReceiptCursor(context.Background(), "a2"); err != nil || cur != last {
			t.Fatalf("a2's receipt cursor after Sync = %d, %v; want %d", cur, err, last)
		}
	})
}

// TestStreamCloseSavesWhatWasTold: a connection that ends keeps the
// device's cursors where the device is known to have read (a Mark it
// confirmed), not where the stream wrote: statuses and updates written
// after that Mark, which may have died with the connection, come again on
// the next connect, and only they.
func TestStreamCloseSavesWhatWasTold(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		var ids []string
		for i := range 3 {
			ids = append(ids, h.send(t, "ab", "a1", fmt.Sprint(i)).ID)
		}
		a1, _, _ := h.sync(t, "a1")
		if a1.Moved() {
			t.Fatal("a stream that wrote nothing since its Mark has moved")
		}
		h.receipt(t, "b1", wire.StatusDelivered, ids[0])
		w := &frames{}
		for _, ev := range h.pub.statuses() {
			if err := a1.Deliver(ctx, ev, w); err != nil {
				t.Fatal(err)
			}
		}
		if !a1.Moved() {
			t.Fatal("a stream that wrote a status has not moved")
		}
		told := a1.Mark() // the device answered the ping after this status

		if err := h.c.ApplyUpdate(ctx, messaging.UpdateRequest{Kind: messaging.UpdateReaction, UserID: "b", DeviceID: "b1", MessageID: ids[0], Emoji: "👍"}); err != nil {
			t.Fatal(err)
		}
		h.receipt(t, "b1", wire.StatusRead, ids[2])
		for _, ev := range slices.Concat(h.pub.statuses(), h.pub.updates("a")) {
			if err := a1.Deliver(ctx, ev, w); err != nil {
				t.Fatal(err)
			}
		}
		if len(w.statuses(t)) != 4 || !a1.Moved() {
			t.Fatalf("a1 was written %q; want 1 delivered, then 3 read, and a move", w.statuses(t))
		}
		a1.Close(ctx, told) // the later frames were never confirmed

		_, again, _ := h.sync(t, "a1")
		var got []string
		for _, f := range again.decoded(t) {
			got = append(got, f.Type+" "+f.MessageID+" "+f.Status)
		}
		// The read receipt covers all three (read implies delivered).
		want := []string{
			"status " + ids[0] + " read", "status " + ids[1] + " read", "status " + ids[2] + " read",
			"reaction " + ids[0] + " ",
		}
		if !slices.Equal(got, want) {
			t.Fatalf("a1 reconnecting got\n%q\nwant what came after the confirmed status\n%q", got, want)
		}
		if _, w, q := h.sync(t, "a1"); len(w.got) != 0 || q != 1 {
			t.Fatalf("a1 after reading them: %d frames, %d queries; want none and 1", len(w.got), q)
		}
	})
}

// TestStreamDropsLiveMessagesPastRetention: a message event published
// once its message is past retention (a resend's publish of a message
// stored long before, or one held up on the bus) is not delivered, as
// Sync would not deliver it; a live one still is.
func TestStreamDropsLiveMessagesPastRetention(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		b1, _, _ := h.sync(t, "b1")
		old := h.send(t, "ab", "a1", "old")
		h.clock.Advance(time.Hour + time.Millisecond)
		h.send(t, "ab", "a1", "new")
		if got := h.deliver(t, b1, h.pub.message(t, "ab", old.Seq)); got != nil {
			t.Fatalf("b1 was delivered a message past retention: %q", got)
		}
		w := &frames{}
		if err := b1.Deliver(context.Background(), h.pub.message(t, "ab", old.Seq+1), w); err != nil {
			t.Fatal(err)
		}
		if got := w.seqs(t); !slices.Equal(got, []int64{old.Seq + 1}) {
			t.Fatalf("b1 got %v; want the new message alone", got)
		}
	})
}

// TestStreamSyncPassesEmptiedEvents: a receipt event whose messages have
// expired has nothing to tell, but Sync still moves the cursor past it, or
// every connect would read it again.
func TestStreamSyncPassesEmptiedEvents(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		m := h.send(t, "ab", "a1", "1")
		h.receipt(t, "b1", wire.StatusDelivered, m.ID)
		if n, _, _, err := h.c.Expire(context.Background(), t0.Add(time.Millisecond), t0, 10); err != nil || n != 1 {
			t.Fatalf("expired %d, %v; want 1", n, err)
		}
		if _, w, _ := h.sync(t, "a1"); len(w.got) != 0 {
			t.Fatalf("a1 got %q for an expired message", w.got)
		}
		if cur, err := h.store.Store.ReceiptCursor(context.Background(), "a1"); err != nil || cur != 1 {
			t.Fatalf("a1's receipt cursor = %d, %v; want 1", cur, err)
		}
		if _, _, q := h.sync(t, "a1"); q != 1 {
			t.Fatalf("a1 reconnecting took %d queries; want 1", q)
		}
	})
}

// TestStreamWriterError: a writer's failure ends Sync and Deliver with it.
func TestStreamWriterError(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		for i := range 3 {
			h.send(t, "ab", "a1", fmt.Sprint(i))
		}
		boom := errors.New("socket gone")
		w := &frames{err: boom, failAfter: 1}
		st := h.svc.OpenStream("b", "b1")
		if err := st.Sync(context.Background(), w); !errors.Is(err, boom) || len(w.got) != 1 {
			t.Fatalf("sync = %v after %d frames; want %v after 1", err, len(w.got), boom)
		}
		h.send(t, "ab", "a1", "3")
		w = &frames{err: boom}
		if err := st.Deliver(context.Background(), h.pub.message(t, "ab", 4), w); !errors.Is(err, boom) {
			t.Fatalf("deliver = %v; want %v", err, boom)
		}
	})
}

// TestOpenStreamIsCheap: a stream is one small allocation until used.
func TestOpenStreamIsCheap(t *testing.T) {
	svc := messaging.NewService(messaging.NewCommitter(nil, nil, clock.NewFake(t0), messaging.Config{}, slog.New(slog.DiscardHandler), nil), nil)
	if n := testing.AllocsPerRun(100, func() { svc.OpenStream("a", "a1") }); n > 1 {
		t.Fatalf("OpenStream makes %v allocations; want 1", n)
	}
}

// updates are the update events published to user, in order.
func (p *recorder) updates(user string) []*bus.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*bus.Event
	for i, ev := range p.events {
		if ev.Kind == bus.KindUpdate && slices.Contains(p.to[i], user) {
			out = append(out, ev)
		}
	}
	return out
}

// TestStreamDeliverUpdates: reactions, edits and deletions reach every
// member's devices as update events numbered per user: delivered live in
// order whatever order they arrive in (a gap read from the store), once;
// a device that was away gets them after its queue; a user's reactions to
// one message in one commit come down to one event; what is refused
// changes nothing and numbers nothing.
func TestStreamDeliverUpdates(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		var ids []string
		for i := range 3 {
			ids = append(ids, h.send(t, "ab", "a1", fmt.Sprint(i)).ID)
		}
		b1, _, _ := h.sync(t, "b1")
		apply := func(u messaging.UpdateRequest) error {
			return h.c.ApplyUpdate(ctx, u)
		}
		for _, u := range []messaging.UpdateRequest{
			{Kind: messaging.UpdateReaction, UserID: "b", DeviceID: "b1", MessageID: ids[0], Emoji: "👍"},
			{Kind: messaging.UpdateEdit, UserID: "a", DeviceID: "a1", MessageID: ids[1], Content: "edited"},
			{Kind: messaging.UpdateDelete, UserID: "a", DeviceID: "a1", MessageID: ids[2]},
		} {
			if err := apply(u); err != nil {
				t.Fatalf("%s: %v", u.Kind, err)
			}
		}
		if err := apply(messaging.UpdateRequest{Kind: messaging.UpdateEdit, UserID: "b", DeviceID: "b1", MessageID: ids[1], Content: "mine now"}); !errors.Is(err, messaging.ErrNotYours) {
			t.Fatalf("b editing a's message: %v, want ErrNotYours", err)
		}
		if err := apply(messaging.UpdateRequest{Kind: messaging.UpdateReaction, UserID: "c", DeviceID: "c1", MessageID: ids[0], Emoji: "👍"}); !errors.Is(err, messaging.ErrMessageNotFound) {
			t.Fatalf("c reacting in a conversation it is not in: %v, want ErrMessageNotFound", err)
		}
		// Each of the three changes is one event of the conversation,
		// numbered 1..3 and published to both members: the refused ones
		// numbered nothing.
		mine := h.pub.updates("b")
		if len(mine) != 3 || len(h.pub.updates("a")) != 3 || mine[2].UpdateID != 3 {
			t.Fatalf("%d update events published to b, %d to a; want 3 each numbered 1..3", len(mine), len(h.pub.updates("a")))
		}
		want, err := h.store.Store.UpdatesRange(ctx, "b", "ab", 0, 4, messaging.Window{})
		if err != nil || len(want) != 3 || want[0].Emoji != "👍" || want[1].Content != "edited" || want[2].Kind != messaging.UpdateDelete {
			t.Fatalf("b's update events = %+v, %v", want, err)
		}
		// b's events, from the last, out of order and repeated: the first
		// delivery fills the gap before it, the rest are dropped.
		w := &frames{}
		last := mine[len(mine)-1]
		for _, ev := range []*bus.Event{last, mine[0], mine[1], last} {
			if err := b1.Deliver(ctx, ev, w); err != nil {
				t.Fatal(err)
			}
		}
		var kinds []string
		for _, f := range w.decoded(t) {
			kinds = append(kinds, f.Type+" "+f.MessageID)
		}
		if wantKinds := []string{"reaction " + ids[0], "message_edited " + ids[1], "message_deleted " + ids[2]}; !slices.Equal(kinds, wantKinds) {
			t.Fatalf("b1 got %q, want %q", kinds, wantKinds)
		}
		b1.Close(ctx, b1.Mark())

		// b2 was away: the messages (the last a tombstone), then the updates.
		_, b2, _ := h.sync(t, "b2")
		got := b2.decoded(t)
		if len(got) != 6 || got[2].Type != wire.TypeMessage || got[3].Type != wire.TypeReaction || got[5].Type != wire.TypeMessageDeleted {
			t.Fatalf("b2 synced %d frames: %+v", len(got), got)
		}
		// b1 never acked the messages, so they are queued still; the
		// updates it was told live are not told again.
		if _, w, _ := h.sync(t, "b1"); len(w.seqs(t)) != 3 || len(w.got) != 3 {
			t.Fatalf("b1 reconnecting was told %d frames, want its 3 queued messages alone", len(w.got))
		}

		// One commit of several reactions by one user to one message: one
		// event, the last reaction.
		res, err := h.store.Store.Commit(ctx, messaging.Batch{Updates: []messaging.UpdateRequest{
			{Kind: messaging.UpdateReaction, UserID: "b", DeviceID: "b1", MessageID: ids[1], Emoji: "😂", At: t0},
			{Kind: messaging.UpdateReaction, UserID: "b", DeviceID: "b1", MessageID: ids[1], Emoji: "🔥", At: t0},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Updates[0].Recipients) != 0 || len(res.Updates[1].Recipients) != 2 || res.Updates[1].EventID != 4 {
			t.Fatalf("coalesced reactions: %+v; want one event, 4, reaching both", res.Updates)
		}
		evs, err := h.store.Store.UpdatesRange(ctx, "a", "ab", 0, 100, messaging.Window{})
		if err != nil || len(evs) != 4 || evs[3].Emoji != "🔥" {
			t.Fatalf("a's update events = %+v, %v; want the coalesced reaction last", evs, err)
		}
	})
}
