package presence_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/presence"
)

// memStore keeps last seen in memory; everyone has default settings and
// no contacts (subscriptions here are explicit).
type memStore struct {
	mu       sync.Mutex
	lastSeen map[string]time.Time
}

func (s *memStore) SetLastSeen(_ context.Context, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastSeen[id] = at
	return nil
}

func (s *memStore) LastSeen(_ context.Context, id string) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastSeen[id], nil
}

var everyone = presence.Settings{LastSeen: presence.Everyone, Online: presence.Everyone}

func (s *memStore) PresenceSettings(context.Context, string) (presence.Settings, error) {
	return everyone, nil
}

func (s *memStore) PresenceSettingsMany(_ context.Context, ids []string) (map[string]presence.Settings, error) {
	out := map[string]presence.Settings{}
	for _, id := range ids {
		out[id] = everyone
	}
	return out, nil
}

func (s *memStore) SetPresenceSettings(context.Context, string, presence.Settings) error { return nil }

func (s *memStore) Contacts(context.Context, string) (presence.ContactSet, error) {
	return presence.ContactSet{}, nil
}

func (s *memStore) PresenceView(context.Context, string) (presence.Settings, presence.ContactSet, error) {
	return everyone, presence.ContactSet{}, nil
}

// sub is a connection that records the presence frames it is handed.
type sub struct {
	user   string
	mu     sync.Mutex
	frames []string
}

func (s *sub) UserID() string { return s.user }

func (s *sub) DeviceID() string { return "device-of-" + s.user }

func (s *sub) Deliver(ev *bus.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.frames = append(s.frames, string(ev.Frames()[0]))
}

func (s *sub) statuses() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, f := range s.frames {
		switch {
		case strings.Contains(f, `"online"`):
			out = append(out, "online")
		case strings.Contains(f, `"offline"`):
			out = append(out, "offline")
		}
	}
	return out
}

// pausingDir is the local directory, but a disconnect, once counted, waits
// until the test lets it return: the moment between the directory saying
// the user left and the tracker acting on it.
type pausingDir struct {
	*presence.Local
	counted, resume chan struct{}
}

func (d *pausingDir) Disconnected(ctx context.Context, userID, deviceID string) (bool, error) {
	went, err := d.Local.Disconnected(ctx, userID, deviceID)
	close(d.counted)
	<-d.resume
	return went, err
}

// TestReconnectRightAfterTheDirectorySawTheUserLeaveShowsNothing: a user
// back within the grace shows its subscribers no blip, however its
// reconnect interleaves with its disconnect: neither "offline" nor a
// second "online".
func TestReconnectRightAfterTheDirectorySawTheUserLeaveShowsNothing(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Unix(1_800_000_000, 0))
	dir := &pausingDir{Local: presence.NewLocal(), counted: make(chan struct{}), resume: make(chan struct{})}
	tr := presence.NewTracker(&memStore{lastSeen: map[string]time.Time{}}, dir, nil, nil, clk,
		presence.Config{Grace: 3 * time.Second}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer tr.Close()

	alice, bob1, bob2 := &sub{user: "alice"}, &sub{user: "bob"}, &sub{user: "bob"}
	if err := tr.Connected(ctx, alice); err != nil {
		t.Fatal(err)
	}
	if err := tr.Subscribe(ctx, alice, []string{"bob"}); err != nil {
		t.Fatal(err)
	}
	if err := tr.Connected(ctx, bob1); err != nil {
		t.Fatal(err)
	}
	left := make(chan struct{})
	go func() { tr.Disconnected(ctx, "bob", "device-of-bob", false); close(left) }()
	<-dir.counted // the directory has bob offline; the tracker has not acted yet
	if err := tr.Connected(ctx, bob2); err != nil {
		t.Fatal(err)
	}
	close(dir.resume)
	<-left
	clk.Advance(3 * time.Second) // past the grace
	if got := strings.Join(alice.statuses(), " "); got != "offline online" {
		t.Fatalf("alice heard %q; want the subscription's snapshot (offline), bob online, and nothing more", got)
	}
}
