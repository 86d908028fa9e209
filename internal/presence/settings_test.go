package presence_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/cache"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/internal/presence"
	"github.com/parleychat/parley/internal/store/sqlstore"
)

// settingsStore is the real SQLite store, recording the settings reads
// that reach it. Its contacts are given by the test (everyone chose
// everyone in contacts), which spares building conversations.
type settingsStore struct {
	*sqlstore.Store
	contacts []string

	mu    sync.Mutex
	reads []string // user ids read, one entry per id
	many  int      // PresenceSettingsMany queries
}

func (s *settingsStore) PresenceSettings(ctx context.Context, id string) (presence.Settings, error) {
	s.mu.Lock()
	s.reads = append(s.reads, id)
	s.mu.Unlock()
	return s.Store.PresenceSettings(ctx, id)
}

func (s *settingsStore) PresenceSettingsMany(ctx context.Context, ids []string) (map[string]presence.Settings, error) {
	s.mu.Lock()
	s.reads = append(s.reads, ids...)
	s.many++
	s.mu.Unlock()
	return s.Store.PresenceSettingsMany(ctx, ids)
}

func (s *settingsStore) Contacts(_ context.Context, id string) (presence.ContactSet, error) {
	var others []string
	for _, c := range s.contacts {
		if c != id {
			others = append(others, c)
		}
	}
	return presence.ContactSet{Chosen: others, ChosenBy: others}, nil
}

// PresenceView reads the settings as PresenceSettings does (and records
// it), with the test's contacts.
func (s *settingsStore) PresenceView(ctx context.Context, id string) (presence.Settings, presence.ContactSet, error) {
	st, err := s.PresenceSettings(ctx, id)
	if err != nil {
		return presence.Settings{}, presence.ContactSet{}, err
	}
	c, err := s.Contacts(ctx, id)
	return st, c, err
}

// take returns the reads since the last call, sorted.
func (s *settingsStore) take() (reads []string, many int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	reads, many = s.reads, s.many
	s.reads, s.many = nil, 0
	slices.Sort(reads)
	return reads, many
}

type settingsFixture struct {
	tr  *presence.Tracker
	st  *settingsStore
	clk *clock.Fake
}

func newSettingsFixture(t *testing.T, entries int, users ...string) *settingsFixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	clk := clock.NewFake(time.Now())
	for _, u := range users {
		if err := st.CreateUser(ctx, identity.User{ID: u, Username: u, DisplayName: u, CreatedAt: clk.Now()}, "hash"); err != nil {
			t.Fatal(err)
		}
	}
	f := &settingsFixture{st: &settingsStore{Store: st, contacts: users}, clk: clk}
	f.tr = presence.NewTracker(f.st, nil, nil, nil, clk, presence.Config{
		SettingsCache: cache.Config{MaxEntries: entries, MaxAge: time.Minute},
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(f.tr.Close)
	return f
}

func (f *settingsFixture) connect(t *testing.T, user string) *sub {
	t.Helper()
	s := &sub{user: user}
	if err := f.tr.Connected(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.tr.Unsubscribe(s) })
	return s
}

func (f *settingsFixture) expectReads(t *testing.T, what string, want []string, wantMany int) {
	t.Helper()
	got, many := f.st.take()
	if !slices.Equal(got, want) || many != wantMany {
		t.Fatalf("%s: read %v in %d PresenceSettingsMany, want %v in %d", what, got, many, want, wantMany)
	}
}

// TestSettingsCacheOnConnect: a connect reads its user's settings and its
// online contacts' from the store once; the next connects from memory;
// only the misses go to the store, in one query.
func TestSettingsCacheOnConnect(t *testing.T) {
	f := newSettingsFixture(t, 100, "ann", "ben", "cal", "dan")
	f.connect(t, "ben")
	f.connect(t, "cal")
	f.st.take()
	f.connect(t, "dan") // ben and cal online; their settings came with their connects
	f.expectReads(t, "first connect of dan", []string{"dan"}, 0)

	f.tr.ForgetSettings([]string{"ben"}) // as another node saving ben's
	ann := f.connect(t, "ann")
	f.expectReads(t, "first connect of ann", []string{"ann", "ben"}, 1)
	if got := ann.statuses(); len(got) != 3 {
		t.Fatalf("ann's snapshot = %v, want three contacts online", got)
	}
	f.connect(t, "ann")
	f.expectReads(t, "second connect of ann", nil, 0)
}

// TestSettingsCacheFollowsUpdates: saved settings are what the next
// snapshot uses, on this node at once, and are told to the other nodes.
func TestSettingsCacheFollowsUpdates(t *testing.T) {
	f := newSettingsFixture(t, 100, "eli", "fox")
	var sent []bus.Invalidation
	f.tr.Invalidator = invalidatorFunc(func(inv bus.Invalidation) { sent = append(sent, inv) })
	f.connect(t, "fox")
	if got := f.connect(t, "eli").statuses(); !slices.Equal(got, []string{"online"}) {
		t.Fatalf("snapshot before = %v", got)
	}
	if _, err := f.tr.UpdateSettings(context.Background(), "fox", "", presence.Nobody); err != nil {
		t.Fatal(err)
	}
	if got := f.connect(t, "eli").statuses(); len(got) != 0 {
		t.Fatalf("snapshot after fox hid its online status = %v", got)
	}
	if len(sent) != 1 || sent[0].Cache != bus.CachePresenceSettings || !slices.Equal(sent[0].IDs, []string{"fox"}) {
		t.Fatalf("told the other nodes %+v", sent)
	}
	if s, err := f.tr.Settings(context.Background(), "fox"); err != nil || s.Online != presence.Nobody {
		t.Fatalf("Settings = %+v, %v", s, err)
	}
}

func TestSettingsCacheEntriesAgeOut(t *testing.T) {
	f := newSettingsFixture(t, 100, "gus")
	ctx := context.Background()
	for _, want := range [][]string{{"gus"}, nil} {
		if _, err := f.tr.Settings(ctx, "gus"); err != nil {
			t.Fatal(err)
		}
		f.expectReads(t, "read", want, 0)
	}
	f.clk.Advance(time.Minute)
	if _, err := f.tr.Settings(ctx, "gus"); err != nil {
		t.Fatal(err)
	}
	f.expectReads(t, "after the cache's max age", []string{"gus"}, 0)
}

func TestSettingsCacheBoundAndOff(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		entries int
		reads   int
	}{{0, 6}, {1, 6}, {2, 2}} { // one entry for two users alternating: every lookup misses
		f := newSettingsFixture(t, tc.entries, "hal", "ivy")
		for range 3 {
			for _, u := range []string{"hal", "ivy"} {
				if _, err := f.tr.Settings(ctx, u); err != nil {
					t.Fatal(err)
				}
			}
		}
		if got, _ := f.st.take(); len(got) != tc.reads {
			t.Errorf("%d entries: %d store reads for 6 lookups of 2 users, want %d", tc.entries, len(got), tc.reads)
		}
	}
}

type invalidatorFunc func(bus.Invalidation)

func (f invalidatorFunc) Invalidate(_ context.Context, inv bus.Invalidation) { f(inv) }
