package push

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/messaging"
)

// TestSignNotice: the header verifies with crypto/ecdsa alone over
// "<t>." + body, and not over another body.
func TestSignNotice(t *testing.T) {
	v, err := LoadOrCreateVAPID(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_790_000_000, 0)
	body := []byte(`{"notice":{"id":"x"}}`)
	h, err := v.SignNotice(body, now)
	if err != nil {
		t.Fatal(err)
	}
	ts, sig, ok := strings.Cut(h, ",es256=")
	if !ok || ts != "t=1790000000" {
		t.Fatalf("header %q", h)
	}
	raw := unb64(t, sig)
	key, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), unb64(t, v.PublicKey()))
	if err != nil {
		t.Fatal(err)
	}
	r, s := new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])
	d := sha256.Sum256(append([]byte("1790000000."), body...))
	if len(raw) != 64 || !ecdsa.Verify(key, d[:], r, s) {
		t.Fatal("signature does not verify")
	}
	d = sha256.Sum256(append([]byte("1790000000."), `{"notice":{"id":"y"}}`...))
	if ecdsa.Verify(key, d[:], r, s) {
		t.Fatal("signature verifies another body")
	}
}

// TestRelayDelivery: a 429 is retried after the backoff with the same
// notice id (and a fresh signature); a 410 deletes the relay only if it
// is still the one pushed to.
func TestRelayDelivery(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	clk := clock.NewFake(time.Unix(1_790_000_000, 0))
	type hit struct {
		status int
		id     string
		sig    string
	}
	hits := make(chan hit, 8)
	var mu sync.Mutex
	answers := []int{http.StatusTooManyRequests, http.StatusOK, http.StatusGone, http.StatusGone}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var n RelayNotice
		_ = json.Unmarshal(b, &n)
		mu.Lock()
		status := answers[0]
		answers = answers[1:]
		mu.Unlock()
		w.WriteHeader(status)
		hits <- hit{status, n.Notice.ID, r.Header.Get(SignatureHeader)}
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	v, err := LoadOrCreateVAPID(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	st := &memStore{subs: map[string]Subscription{}, deleted: make(chan string, 4)}
	obs := &counts{n: map[string]int{}}
	svc := New(st, offline{}, v, clk, Config{Backoff: time.Second, AllowInsecureHosts: []string{u.Host}}, slog.New(slog.DiscardHandler), obs)
	rctx, rcancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = svc.Run(rctx); close(done) }()
	defer func() { rcancel(); <-done }()
	if err := svc.RegisterRelay(ctx, Relay{DeviceID: "d1", UserID: "bob", URL: srv.URL + "/n", AppID: "app", Pushkey: "k1"}); err != nil {
		t.Fatal(err)
	}
	next := func() hit {
		t.Helper()
		select {
		case h := <-hits:
			return h
		case <-ctx.Done():
			t.Fatal("no notice")
			return hit{}
		}
	}
	svc.Stored(messaging.Message{ConversationID: "c1", SenderID: "alice", Seq: 1, Type: "text"}, []string{"alice", "bob"})
	first := next()
	if err := clk.WaitForTimers(ctx, time.Second, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	second := next()
	if first.status != 429 || second.status != 200 || first.id == "" || first.id != second.id || first.sig == second.sig {
		t.Fatalf("first %+v, retry %+v: want the same id, signed again", first, second)
	}
	settle(t, svc)
	if obs.get("relay:sent/") != 1 || obs.get("webpush:sent/") != 0 {
		t.Fatalf("counts %v", obs.n)
	}

	// 410 to a notice for a relay the device has replaced meanwhile
	// (k1, planned before it registered k2): the new one stays.
	st.mu.Lock()
	st.relays["d1"] = Relay{DeviceID: "d1", UserID: "bob", URL: srv.URL + "/n", AppID: "app", Pushkey: "k2"}
	st.mu.Unlock()
	old := &Relay{DeviceID: "d1", UserID: "bob", URL: srv.URL + "/n", AppID: "app", Pushkey: "k1"}
	svc.deliver(ctx, &delivery{relay: old, body: []byte(`{}`), id: "n1"})
	if h := next(); h.status != http.StatusGone || len(st.deleted) != 0 {
		t.Fatalf("answer %d; a relay registered again was deleted (%d)", h.status, len(st.deleted))
	}
	// 410 for the current one: deleted.
	clk.Advance(5 * time.Second)
	svc.Stored(messaging.Message{ConversationID: "c1", SenderID: "alice", Seq: 2, Type: "text"}, []string{"alice", "bob"})
	_ = next()
	settle(t, svc)
	if len(st.deleted) != 1 || obs.get("relay:dropped/gone") != 2 {
		t.Fatalf("deleted %d, counts %v", len(st.deleted), obs.n)
	}
}
