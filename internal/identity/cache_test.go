package identity_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/cache"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/internal/store/sqlstore"
)

// countingStore is the real SQLite store, counting the token lookups that
// reach it.
type countingStore struct {
	*sqlstore.Store
	lookups atomic.Int64
}

func (s *countingStore) DeviceByToken(ctx context.Context, h []byte) (identity.Device, error) {
	s.lookups.Add(1)
	return s.Store.DeviceByToken(ctx, h)
}

// sentInvalidations records what a service told the other nodes.
type sentInvalidations struct {
	mu  sync.Mutex
	all []bus.Invalidation
}

func (s *sentInvalidations) Invalidate(_ context.Context, inv bus.Invalidation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all = append(s.all, inv)
}

type fixture struct {
	svc   *identity.Service
	st    *countingStore
	clk   *clock.Fake
	sent  *sentInvalidations
	dir   string
	users int
}

func newFixture(t *testing.T, entries, maxDevices int) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlstore.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	f := &fixture{st: &countingStore{Store: st}, clk: clock.NewFake(time.Now()), sent: &sentInvalidations{}, dir: dir}
	f.svc = identity.NewService(f.st, f.clk, identity.Config{
		SessionTTL: time.Hour, MaxDevices: maxDevices, Hash: identity.HashParams{Time: 1, MemoryKiB: 64, Threads: 1},
		SessionCache: cache.Config{MaxEntries: entries, MaxAge: time.Minute},
	})
	f.svc.Invalidator = f.sent
	return f
}

const pass = "correct horse battery"

func (f *fixture) user(t *testing.T, name string) {
	t.Helper()
	if _, err := f.svc.Register(context.Background(), name, pass, ""); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) login(t *testing.T, name string) identity.Session {
	t.Helper()
	s, err := f.svc.Login(context.Background(), name, pass)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// auth authenticates and reports how many store lookups it took.
func (f *fixture) auth(t *testing.T, token string) (identity.Device, error, int64) {
	t.Helper()
	before := f.st.lookups.Load()
	d, err := f.svc.Authenticate(context.Background(), token)
	return d, err, f.st.lookups.Load() - before
}

func TestSessionCacheHitAfterLogin(t *testing.T) {
	f := newFixture(t, 100, 5)
	f.user(t, "ana")
	s := f.login(t, "ana")
	d, err, lookups := f.auth(t, s.Token)
	if err != nil || d.ID != s.DeviceID || d.UserID != s.UserID {
		t.Fatalf("Authenticate = %+v, %v", d, err)
	}
	if lookups != 0 {
		t.Fatalf("the first connect after login took %d store lookups, want 0", lookups)
	}
	// What the cache answers is what the store would.
	stored, err := f.st.Store.DeviceByToken(context.Background(), tokenHash(s.Token))
	if err != nil || stored != d {
		t.Fatalf("cached %+v, stored %+v (%v)", d, stored, err)
	}
}

func TestSessionCacheMissFillsThenHits(t *testing.T) {
	f := newFixture(t, 100, 5)
	f.user(t, "bea")
	s := f.login(t, "bea")
	f.svc.ForgetAllSessions() // as after a restart, or a Redis reconnect
	if _, err, n := f.auth(t, s.Token); err != nil || n != 1 {
		t.Fatalf("miss: %v, %d lookups", err, n)
	}
	if _, err, n := f.auth(t, s.Token); err != nil || n != 0 {
		t.Fatalf("hit: %v, %d lookups", err, n)
	}
	// An unknown token is refused, and is never cached.
	for range 2 {
		if _, err, n := f.auth(t, "no-such-token"); !errors.Is(err, identity.ErrBadToken) || n != 1 {
			t.Fatalf("unknown token: %v, %d lookups", err, n)
		}
	}
}

func TestSessionCacheEntriesAgeOut(t *testing.T) {
	f := newFixture(t, 100, 5)
	f.user(t, "cid")
	s := f.login(t, "cid")
	f.clk.Advance(time.Minute)
	if _, err, n := f.auth(t, s.Token); err != nil || n != 1 {
		t.Fatalf("after the cache's max age: %v, %d lookups, want one", err, n)
	}
}

// TestCachedSessionExpires: a cached session is refused at its expiry,
// exactly as one read from the store.
func TestCachedSessionExpires(t *testing.T) {
	f := newFixture(t, 100, 5)
	f.user(t, "dee")
	s := f.login(t, "dee")
	for f.clk.Now().Add(30 * time.Second).Before(s.ExpiresAt) {
		f.clk.Advance(30 * time.Second)
		if _, err := f.svc.Authenticate(context.Background(), s.Token); err != nil {
			t.Fatalf("%s before expiry: %v", s.ExpiresAt.Sub(f.clk.Now()), err)
		}
	}
	// Fill the cache just before the expiry, then cross it.
	f.svc.ForgetAllSessions()
	f.clk.Set(s.ExpiresAt.Add(-time.Millisecond))
	if _, err := f.svc.Authenticate(context.Background(), s.Token); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Millisecond)
	if _, err, n := f.auth(t, s.Token); !errors.Is(err, identity.ErrBadToken) || n != 0 {
		t.Fatalf("at expiry: %v after %d lookups, want ErrBadToken from the cache", err, n)
	}
}

func TestSessionCacheDropsRevokedSessions(t *testing.T) {
	f := newFixture(t, 100, 2)
	f.user(t, "eve")
	first := f.login(t, "eve")
	second := f.login(t, "eve")
	var revoked []string
	f.svc.OnRevoke = func(_ string, ids []string, _ string) {
		// The cache and the other nodes know before the connections do.
		if _, err := f.svc.Authenticate(context.Background(), first.Token); !errors.Is(err, identity.ErrBadToken) {
			t.Errorf("an evicted session still authenticates when its connections are told: %v", err)
		}
		revoked = append(revoked, ids...)
	}

	// A third login evicts the first (max devices 2).
	third := f.login(t, "eve")
	if _, err := f.svc.Authenticate(context.Background(), first.Token); !errors.Is(err, identity.ErrBadToken) {
		t.Fatalf("evicted session: %v", err)
	}
	// Sign out.
	d, err := f.svc.Authenticate(context.Background(), second.Token)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Logout(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(context.Background(), second.Token); !errors.Is(err, identity.ErrBadToken) {
		t.Fatalf("signed-out session: %v", err)
	}
	if _, err, n := f.auth(t, third.Token); err != nil || n != 0 {
		t.Fatalf("the remaining session: %v, %d lookups", err, n)
	}
	if len(revoked) != 2 || revoked[0] != first.DeviceID || revoked[1] != second.DeviceID {
		t.Fatalf("revoked %v", revoked)
	}
	want := []bus.Invalidation{
		{Cache: bus.CacheSessions, IDs: []string{first.DeviceID}},
		{Cache: bus.CacheSessions, IDs: []string{second.DeviceID}},
	}
	if len(f.sent.all) != 2 || f.sent.all[0].IDs[0] != want[0].IDs[0] || f.sent.all[1].IDs[0] != want[1].IDs[0] ||
		f.sent.all[0].Cache != bus.CacheSessions || f.sent.all[1].Cache != bus.CacheSessions {
		t.Fatalf("told the other nodes %+v, want %+v", f.sent.all, want)
	}
}

// TestSessionCacheForgetsWhatOtherNodesEnded: an invalidation from
// another node drops the session here.
func TestSessionCacheForgetsWhatOtherNodesEnded(t *testing.T) {
	f := newFixture(t, 100, 5)
	f.user(t, "fay")
	s := f.login(t, "fay")
	// Another node deletes the session and says so.
	if err := f.st.DeleteDevice(context.Background(), s.DeviceID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(context.Background(), s.Token); err != nil {
		t.Fatalf("before the invalidation arrives the cache still answers: %v", err)
	}
	f.svc.ForgetSessions([]string{s.DeviceID})
	if _, err := f.svc.Authenticate(context.Background(), s.Token); !errors.Is(err, identity.ErrBadToken) {
		t.Fatalf("after the invalidation: %v", err)
	}
}

// TestSessionCheckDropsDeletedSessions: a session deleted by hand is
// dropped from the cache when the periodic check finds it gone.
func TestSessionCheckDropsDeletedSessions(t *testing.T) {
	f := newFixture(t, 100, 5)
	f.user(t, "gil")
	s := f.login(t, "gil")
	db, err := sql.Open("sqlite", "file:"+filepath.Join(f.dir, "parley.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DELETE FROM devices WHERE id = ?`, s.DeviceID); err != nil {
		t.Fatal(err)
	}
	live, err := f.svc.ExistingDevices(context.Background(), []string{s.DeviceID})
	if err != nil || live[s.DeviceID] {
		t.Fatalf("ExistingDevices = %v, %v", live, err)
	}
	if _, err := f.svc.Authenticate(context.Background(), s.Token); !errors.Is(err, identity.ErrBadToken) {
		t.Fatalf("a session the check found gone: %v", err)
	}
}

func TestSessionCacheBound(t *testing.T) {
	f := newFixture(t, 2, 5)
	f.user(t, "hal")
	var tokens []string
	for range 4 {
		tokens = append(tokens, f.login(t, "hal").Token)
	}
	var lookups int64
	for _, tok := range tokens {
		_, err, n := f.auth(t, tok)
		if err != nil {
			t.Fatal(err)
		}
		lookups += n
	}
	// Two of the four logins' sessions were evicted from the cache (not
	// from the store): at least two lookups, and every token still works.
	if lookups < 2 {
		t.Fatalf("%d lookups for 4 sessions in a cache of 2", lookups)
	}
}

func TestSessionCacheOff(t *testing.T) {
	f := newFixture(t, 0, 5)
	f.user(t, "ida")
	s := f.login(t, "ida")
	for range 3 {
		if _, err, n := f.auth(t, s.Token); err != nil || n != 1 {
			t.Fatalf("cache off: %v, %d lookups, want one per call", err, n)
		}
	}
}

func TestAuthenticateHitDoesNotAllocate(t *testing.T) {
	f := newFixture(t, 100, 5)
	f.user(t, "jon")
	s := f.login(t, "jon")
	ctx := context.Background()
	n := testing.AllocsPerRun(100, func() {
		if _, err := f.svc.Authenticate(ctx, s.Token); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Fatalf("a cached Authenticate allocates %.0f times", n)
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	for _, entries := range []int{0, 100} {
		name := "store"
		if entries > 0 {
			name = "cached"
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			st, err := sqlstore.Open(context.Background(), dir)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			svc := identity.NewService(st, clock.Real{}, identity.Config{
				SessionTTL: time.Hour, MaxDevices: 5, Hash: identity.HashParams{Time: 1, MemoryKiB: 64, Threads: 1},
				SessionCache: cache.Config{MaxEntries: entries, MaxAge: time.Minute},
			})
			ctx := context.Background()
			if _, err := svc.Register(ctx, "bench", pass, ""); err != nil {
				b.Fatal(err)
			}
			s, err := svc.Login(ctx, "bench", pass)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := svc.Authenticate(ctx, s.Token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}
