package push

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/messaging"
)

// memStore holds one subscription; the SQL side is tested against real
// databases in internal/app. Here the risk is the delivery logic.
type memStore struct {
	mu      sync.Mutex
	subs    map[string]Subscription
	relays  map[string]Relay
	deleted chan string
}

func (m *memStore) PutPushRelay(_ context.Context, r Relay) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.relays == nil {
		m.relays = map[string]Relay{}
	}
	m.relays[r.DeviceID] = r
	return nil
}

func (m *memStore) DeletePushRelay(_ context.Context, deviceID, url, pushkey string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.relays[deviceID]; ok && (url == "" || r.URL == url && r.Pushkey == pushkey) {
		delete(m.relays, deviceID)
		m.deleted <- deviceID
	}
	return nil
}

func (m *memStore) PutPushSubscription(_ context.Context, s Subscription) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.subs[s.DeviceID] = s
	return nil
}

func (m *memStore) DeletePushSubscription(_ context.Context, deviceID, endpoint string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.subs[deviceID]; ok && (endpoint == "" || s.Endpoint == endpoint) {
		delete(m.subs, deviceID)
		m.deleted <- deviceID
	}
	return nil
}

func (m *memStore) PushTargets(_ context.Context, _, senderID string, _ int64, _ time.Time) (string, []Target, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Target
	for _, s := range m.subs {
		if s.UserID != senderID {
			out = append(out, Target{Subscription: s, Unread: 1})
		}
	}
	for _, r := range m.relays {
		if r.UserID != senderID {
			out = append(out, Target{Relay: r, Unread: 1})
		}
	}
	return "Alice", out, nil
}

type offline struct{}

func (offline) DeviceOnline(context.Context, string, string) (bool, error) { return false, nil }

type counts struct {
	mu sync.Mutex
	n  map[string]int
}

// Push counts result/reason, and kind:result/reason apart.
func (c *counts) Push(kind, result, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[result+"/"+reason]++
	c.n[kind+":"+result+"/"+reason]++
}

func (c *counts) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[k]
}

// harness is a service with one subscribed device whose push service
// answers with the statuses of answers, in turn.
type harness struct {
	svc   *Service
	clk   *clock.Fake
	store *memStore
	obs   *counts
	hits  chan int // the status each push was answered
}

func newHarness(t *testing.T, cfg Config, answers ...int) *harness {
	t.Helper()
	h := &harness{clk: clock.NewFake(time.Unix(1_790_000_000, 0)), hits: make(chan int, 16),
		store: &memStore{subs: map[string]Subscription{}, deleted: make(chan string, 4)}, obs: &counts{n: map[string]int{}}}
	var mu sync.Mutex
	ps := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		status := http.StatusCreated
		if len(answers) > 0 {
			status, answers = answers[0], answers[1:]
		}
		mu.Unlock()
		w.WriteHeader(status)
		h.hits <- status
	}))
	t.Cleanup(ps.Close)
	u, _ := url.Parse(ps.URL)
	cfg.AllowInsecureHosts = []string{u.Host}
	v, err := LoadOrCreateVAPID(t.TempDir(), "mailto:ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	h.svc = New(h.store, offline{}, v, h.clk, cfg, slog.New(slog.DiscardHandler), h.obs)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = h.svc.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	ua, _ := ecdh.P256().GenerateKey(rand.Reader)
	auth := make([]byte, 16)
	_, _ = rand.Read(auth)
	if err := h.svc.Subscribe(ctx, Subscription{DeviceID: "d1", UserID: "bob", Endpoint: ps.URL + "/s",
		P256DH: b64.EncodeToString(ua.PublicKey().Bytes()), Auth: b64.EncodeToString(auth)}); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) send(seq int64) {
	h.svc.Stored(messaging.Message{ConversationID: "c1", SenderID: "alice", Seq: seq, Type: "text"}, []string{"alice", "bob"})
}

func (h *harness) hit(t *testing.T) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case s := <-h.hits:
		return s
	case <-ctx.Done():
		t.Fatal("no push")
		return 0
	}
}

func settle(t *testing.T, s *Service) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Settled(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestRetryWithBackoff: a 5xx is tried again after the backoff on the
// injected clock, doubling, up to Attempts; the wait holds no worker.
func TestRetryWithBackoff(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := newHarness(t, Config{Attempts: 3, Backoff: time.Second}, 503, 500, 503)
	h.send(1)
	if s := h.hit(t); s != 503 {
		t.Fatalf("first answer %d", s)
	}
	if err := h.clk.WaitForTimers(ctx, time.Second, 1); err != nil {
		t.Fatal(err)
	}
	h.clk.Advance(time.Second)
	if s := h.hit(t); s != 500 {
		t.Fatalf("second answer %d", s)
	}
	if err := h.clk.WaitForTimers(ctx, 2*time.Second, 1); err != nil {
		t.Fatal(err)
	}
	h.clk.Advance(2 * time.Second)
	if s := h.hit(t); s != 503 {
		t.Fatalf("third answer %d", s)
	}
	settle(t, h.svc)
	if h.obs.get("failed/exhausted") != 1 || h.obs.get("sent/") != 0 {
		t.Fatalf("counts %v", h.obs.n)
	}
	if h.clk.Pending() != 0 {
		t.Fatal("a fourth attempt is armed")
	}
}

// TestGoneDeletesSubscription: 410 deletes the subscription at once, no retry.
func TestGoneDeletesSubscription(t *testing.T) {
	h := newHarness(t, Config{}, http.StatusGone)
	h.send(1)
	if s := h.hit(t); s != http.StatusGone {
		t.Fatalf("answer %d", s)
	}
	settle(t, h.svc)
	if len(h.store.deleted) != 1 || h.obs.get("dropped/gone") != 1 || h.clk.Pending() != 0 {
		t.Fatalf("deleted %d, counts %v, pending %d", len(h.store.deleted), h.obs.n, h.clk.Pending())
	}
}

// TestStoredNeverBlocks: with the queue full, Stored drops and counts
// instead of waiting, so the committer's publishing never stalls.
func TestStoredNeverBlocks(t *testing.T) {
	v, err := LoadOrCreateVAPID(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	obs := &counts{n: map[string]int{}}
	// Not running: nothing takes from the queue.
	svc := New(&memStore{subs: map[string]Subscription{}}, offline{}, v, clock.NewFake(time.Unix(0, 0)), Config{Queue: 2}, slog.New(slog.DiscardHandler), obs)
	for i := range 5 {
		svc.Stored(messaging.Message{ConversationID: "c", SenderID: "a", Seq: int64(i + 1), Type: "text"}, []string{"a", "b"})
	}
	if got := obs.get("dropped/queue_full"); got != 3 {
		t.Fatalf("dropped %d, want 3", got)
	}
	// The sender's own message, system messages and withheld ones are not
	// even queued.
	svc.Stored(messaging.Message{ConversationID: "c", SenderID: "a", Type: "system"}, []string{"a", "b"})
	svc.Stored(messaging.Message{ConversationID: "c", SenderID: "a", Type: "text", Withheld: true}, []string{"a"})
	svc.Stored(messaging.Message{ConversationID: "c", SenderID: "a", Type: "text"}, []string{"a"})
	if got := obs.get("dropped/queue_full"); got != 3 {
		t.Fatalf("dropped %d, want still 3", got)
	}
}

func TestTopic(t *testing.T) {
	a, b := Topic("01JD3Y5N9C8Q4W7R2T6V0XKZ1A"), Topic("01JD3Y5N9C8Q4W7R2T6V0XKZ1B")
	if len(a) != 32 || a == b || a != Topic("01JD3Y5N9C8Q4W7R2T6V0XKZ1A") {
		t.Fatalf("topics %q %q", a, b)
	}
	if _, err := b64.DecodeString(a); err != nil {
		t.Fatal(err)
	}
}
