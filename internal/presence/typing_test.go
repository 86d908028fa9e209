package presence_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/presence"
)

type recorder struct {
	mu     sync.Mutex
	frames []string
}

func (r *recorder) Publish(_ context.Context, userIDs []string, ev *bus.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for range userIDs {
		r.frames = append(r.frames, string(ev.Frames()[0]))
	}
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.frames)
}

// countingMembers is a conversation's member list that counts lookups.
type countingMembers struct {
	mu      sync.Mutex
	ids     []string
	lookups int
}

func (m *countingMembers) MemberIDs(context.Context, string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lookups++
	return m.ids, nil
}

func (m *countingMembers) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lookups
}

func newTypingTracker(t *testing.T, members presence.Members) (*presence.Tracker, *recorder, *clock.Fake) {
	clk := clock.NewFake(time.Unix(1_800_000_000, 0))
	pub := &recorder{}
	// A long typing timeout: these tests are about what is relayed at once.
	tr := presence.NewTracker(nil, nil, pub, members, clk, presence.Config{TypingTimeout: time.Hour},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(tr.Close)
	return tr, pub, clk
}

// TestTypingIsNotAmplified: a member typing as fast as it can costs one
// relay to each other member and one member lookup, not one per frame.
func TestTypingIsNotAmplified(t *testing.T) {
	ctx := context.Background()
	members := &countingMembers{ids: []string{"a", "b", "c"}}
	tr, pub, clk := newTypingTracker(t, members)
	for range 100 {
		if err := tr.Typing(ctx, "g", "a", "composing"); err != nil {
			t.Fatal(err)
		}
	}
	if pub.count() != 2 || members.count() != 1 {
		t.Fatalf("100 composing frames: %d frames relayed, %d member lookups; want 2 (one per other member) and 1", pub.count(), members.count())
	}
	// A repeated paused tells nobody anything new either.
	for range 10 {
		if err := tr.Typing(ctx, "g", "a", "paused"); err != nil {
			t.Fatal(err)
		}
	}
	if pub.count() != 4 {
		t.Fatalf("composing then 10 paused: %d frames, want 4", pub.count())
	}
	// Flapping composing/paused is rate-limited...
	for range 10 {
		_ = tr.Typing(ctx, "g", "a", "composing")
		_ = tr.Typing(ctx, "g", "a", "paused")
	}
	if pub.count() != 4 {
		t.Fatalf("flapping within %s: %d frames, want still 4", presence.TypingMinInterval, pub.count())
	}
	// ...and relayed again once the interval has passed.
	clk.Advance(presence.TypingMinInterval)
	_ = tr.Typing(ctx, "g", "a", "composing")
	if pub.count() != 6 {
		t.Fatalf("composing after the interval: %d frames, want 6", pub.count())
	}
	if members.count() != 1 {
		t.Fatalf("%d member lookups within %s, want 1", members.count(), presence.MembersCacheTTL)
	}
}

func TestTypingMembersComeFromMemoryUntilTheyChange(t *testing.T) {
	ctx := context.Background()
	members := &countingMembers{ids: []string{"a", "b"}}
	tr, pub, clk := newTypingTracker(t, members)

	if err := tr.Typing(ctx, "g", "x", "composing"); !errors.Is(err, presence.ErrNotMember) {
		t.Fatalf("a non-member typing: %v, want ErrNotMember", err)
	}
	if pub.count() != 0 {
		t.Fatal("a non-member's typing was relayed")
	}
	_ = tr.Typing(ctx, "g", "a", "composing")
	_ = tr.Typing(ctx, "g", "b", "composing")
	if members.count() != 1 || pub.count() != 2 {
		t.Fatalf("lookups %d, frames %d; want 1 and 2", members.count(), pub.count())
	}
	// A membership change here is seen at once.
	members.mu.Lock()
	members.ids = []string{"a"}
	members.mu.Unlock()
	tr.ForgetMembers("g")
	_ = tr.Typing(ctx, "g", "a", "paused")
	if members.count() != 2 || pub.count() != 2 {
		t.Fatalf("after the change: lookups %d, frames %d; want 2 and 2 (nobody left to tell)", members.count(), pub.count())
	}
	if err := tr.Typing(ctx, "g", "b", "paused"); !errors.Is(err, presence.ErrNotMember) {
		t.Fatalf("a removed member typing: %v, want ErrNotMember", err)
	}
	// One made elsewhere (another node) within MembersCacheTTL.
	clk.Advance(presence.MembersCacheTTL)
	_ = tr.Typing(ctx, "g", "a", "composing")
	if members.count() != 3 {
		t.Fatalf("after the cache's TTL: %d lookups, want 3", members.count())
	}
}
