package identity

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/store"
)

// memStore is the smallest Store: the hash queue under test never
// reaches a database.
type memStore struct {
	mu    sync.Mutex
	users map[string]User
	hash  map[string]string
}

func (m *memStore) CreateUser(_ context.Context, u User, h string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := strings.ToLower(u.Username)
	if _, ok := m.users[k]; ok {
		return store.ErrConflict
	}
	m.users[k], m.hash[k] = u, h
	return nil
}

func (m *memStore) UserByID(context.Context, string) (User, error) { return User{}, store.ErrNotFound }

func (m *memStore) UserByUsername(_ context.Context, name string) (User, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := strings.ToLower(name)
	u, ok := m.users[k]
	if !ok {
		return User{}, "", store.ErrNotFound
	}
	return u, m.hash[k], nil
}

func (m *memStore) CreateDevice(context.Context, Device, []byte, int) ([]string, error) {
	return nil, nil
}

func (m *memStore) DeleteDevice(context.Context, string) error { return store.ErrNotFound }

func (m *memStore) ExistingDevices(context.Context, []string) (map[string]bool, error) {
	return nil, nil
}

func (m *memStore) DeviceByToken(context.Context, []byte) (Device, error) {
	return Device{}, store.ErrNotFound
}

func TestHashQueueShedsLoad(t *testing.T) {
	ctx := context.Background()
	s := NewService(&memStore{users: map[string]User{}, hash: map[string]string{}}, clock.NewFake(time.Now()), Config{
		SessionTTL: time.Hour, MaxDevices: 5, Hash: HashParams{Time: 1, MemoryKiB: 64, Threads: 1},
		MaxConcurrentHashes: 1, MaxHashQueue: 1,
	})
	const pass = "correct horse battery"
	if _, err := s.Register(ctx, "alice", pass, ""); err != nil {
		t.Fatal(err)
	}
	s.sem <- struct{}{} // the one slot is busy
	queued := make(chan error, 1)
	go func() {
		_, err := s.Login(ctx, "alice", pass)
		queued <- err
	}()
	for s.HashesWaiting() != 1 {
		runtime.Gosched()
	}
	// The queue is full: the next attempt is refused at once, not queued.
	_, err := s.Login(ctx, "alice", pass)
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("login past the queue: %v, want ErrBusy", err)
	}
	if _, err := s.Register(ctx, "bob", pass, ""); !errors.Is(err, ErrBusy) {
		t.Fatalf("registration past the queue: %v, want ErrBusy", err)
	}
	// An unknown name is refused the same way: a busy server must not
	// tell which accounts exist.
	if _, err := s.Login(ctx, "nobody", pass); !errors.Is(err, ErrBusy) {
		t.Fatalf("login of an unknown name past the queue: %v, want ErrBusy", err)
	}
	<-s.sem
	if err := <-queued; err != nil {
		t.Fatalf("the queued login: %v", err)
	}
	// A caller that gives up while queued gets its context's error,
	// wrapped, not a server fault of its own.
	s.sem <- struct{}{}
	cctx, cancel := context.WithCancel(ctx)
	go func() {
		for s.HashesWaiting() != 1 {
			runtime.Gosched()
		}
		cancel()
	}()
	if _, err := s.Login(cctx, "alice", pass); !errors.Is(err, context.Canceled) {
		t.Fatalf("login abandoned in the queue: %v, want context.Canceled", err)
	}
	<-s.sem
	if s.HashesWaiting() != 0 {
		t.Fatalf("%d still waiting", s.HashesWaiting())
	}
}

func (m *memStore) Devices(context.Context, string) ([]Device, error) { return nil, nil }

func (m *memStore) TouchDevice(context.Context, string, time.Time) error { return nil }

func (m *memStore) DeleteOtherDevices(context.Context, string, string) ([]string, error) {
	return nil, nil
}

func (m *memStore) PasswordHash(context.Context, string) (string, error) {
	return "", store.ErrNotFound
}

func (m *memStore) SetPassword(context.Context, string, string, string) ([]string, error) {
	return nil, store.ErrNotFound
}
func (m *memStore) DeleteAccount(context.Context, string, time.Time) ([]string, error) {
	return nil, store.ErrNotFound
}
func (m *memStore) UserForLookup(context.Context, string) (User, Discoverability, error) {
	return User{}, "", store.ErrNotFound
}

func (m *memStore) Discoverability(context.Context, string) (Discoverability, error) {
	return "", store.ErrNotFound
}

func (m *memStore) SetDiscoverability(context.Context, string, Discoverability) error { return nil }
