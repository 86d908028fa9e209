package messaging_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/conversations"
	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/internal/store/sqlstore"
)

// recorder is a Publisher that keeps what it is given.
type recorder struct {
	mu     sync.Mutex
	events []*bus.Event
	to     [][]string // each event's users
}

func (r *recorder) Publish(_ context.Context, users []string, ev *bus.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.to = append(r.to, users)
	r.mu.Unlock()
}

func (r *recorder) messages(conv string) []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var seqs []int64
	for _, ev := range r.events {
		if ev.Kind == bus.KindMessage && ev.ConversationID == conv {
			seqs = append(seqs, ev.Seq)
		}
	}
	return seqs
}

var t0 = time.UnixMilli(1_790_000_000_000)

// TestCommitterIsTheOneWriter: sends from many goroutines, a membership
// change and an expiry all go through one committer against a real
// SQLite store: every message of the conversation is published once, in
// sequence order without a gap, the change's system message among them,
// and the expiry tells the sender of what never arrived.
func TestCommitterIsTheOneWriter(t *testing.T) {
	ctx := context.Background()
	st := groupStore(t, "a", "b", "c")
	pub := &recorder{}
	clk := clock.NewFake(t0)
	c := messaging.NewCommitter(st, pub, clk, messaging.Config{Retention: time.Hour, MaxBatch: 8}, slog.New(slog.DiscardHandler), nil)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()

	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 25 {
				m := messaging.Message{ConversationID: "g", SenderID: "a", SenderDevice: "a1",
					ClientMessageID: fmt.Sprint(w, "-", i), Type: "text", Content: "x"}
				if _, err := c.Send(ctx, m); err != nil {
					t.Error(err)
				}
			}
		})
	}
	var added error
	wg.Go(func() {
		added = c.Update(ctx, func(tx conversations.Tx) error {
			seq, err := tx.AppendSystem(ctx, conversations.SystemMessage{ID: "sys", ConversationID: "g", SenderID: "a", SenderDevice: "a1", Content: "{}", CreatedAt: t0})
			if err != nil {
				return err
			}
			return tx.AddMember(ctx, "g", conversations.Member{UserID: "c", Role: "member", JoinedAt: t0, JoinedSeq: seq}, 100)
		})
	})
	wg.Wait()
	if added != nil {
		t.Fatal(added)
	}
	seqs := pub.messages("g")
	if len(seqs) != 101 {
		t.Fatalf("%d messages published; want 101", len(seqs))
	}
	for i, s := range seqs {
		if s != int64(i+1) {
			t.Fatalf("published seqs %v: want 1..101 in order", seqs)
		}
	}

	// Nobody received anything: once past retention, every message of a
	// tells a of each recipient whose window held it.
	n, _, statuses, err := c.Expire(ctx, t0.Add(time.Hour), t0.Add(2*time.Hour), 1000)
	if err != nil || n != 101 {
		t.Fatalf("expired %d, %v; want 101", n, err)
	}
	if statuses == 0 {
		t.Fatal("no expired statuses")
	}
	expired := 0
	pub.mu.Lock()
	for _, ev := range pub.events {
		if ev.Kind == bus.KindStatus {
			for _, f := range ev.Frames() {
				if bytes.Contains(f, []byte(`"status":"expired"`)) {
					expired++
				}
			}
		}
	}
	pub.mu.Unlock()
	c.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if expired != statuses {
		t.Fatalf("%d status frames published for %d expired statuses", expired, statuses)
	}
}

// notified is a Notifier that keeps what it is told.
type notified struct {
	mu   sync.Mutex
	msgs []messaging.Message
	to   [][]string
}

func (n *notified) Stored(m messaging.Message, members []string) {
	n.mu.Lock()
	n.msgs = append(n.msgs, m)
	n.to = append(n.to, members)
	n.mu.Unlock()
}

// TestCommitterNotifies: the Notifier hears of each stored send, with its
// members, before the sender's ack; a duplicate resend, published again,
// is not told again.
func TestCommitterNotifies(t *testing.T) {
	ctx := context.Background()
	st := groupStore(t, "a", "b")
	c := messaging.NewCommitter(st, &recorder{}, clock.NewFake(t0), messaging.Config{Retention: time.Hour}, slog.New(slog.DiscardHandler), nil)
	n := &notified{}
	c.Notifier = n
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		c.Close()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	m := messaging.Message{ConversationID: "g", SenderID: "a", SenderDevice: "a1", ClientMessageID: "k1", Type: "text", Content: "x"}
	for range 2 { // the second is a duplicate
		if _, err := c.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.msgs) != 1 || n.msgs[0].Seq != 1 || len(n.to[0]) != 2 {
		t.Fatalf("notified %+v to %v; want the one stored message, to both members", n.msgs, n.to)
	}
}

// groupStore opens a store holding users and a group "g" of a and b, both
// admins; it is closed when the test ends.
func groupStore(t *testing.T, users ...string) *sqlstore.Store {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, u := range users {
		if err := st.CreateUser(ctx, identity.User{ID: u, Username: "user-" + u, DisplayName: u, CreatedAt: t0}, "h"); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Update(ctx, func(tx conversations.Tx) error {
		if err := tx.CreateGroup(ctx, conversations.Conversation{ID: "g", Type: conversations.TypeGroup, Name: "g", CreatedBy: "a", CreatedAt: t0, LastActivityAt: t0}); err != nil {
			return err
		}
		for _, u := range []string{"a", "b"} {
			if err := tx.AddMember(ctx, "g", conversations.Member{UserID: u, Role: "admin", JoinedAt: t0}, 100); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return st
}
