package app_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/store/sqlstore"
	"github.com/parleychat/parley/wire"
)

// relayNotice is one notice a relay accepted, its signature checked.
type relayNotice struct {
	path   string
	header http.Header
	raw    string
	notice wire.PushRelayNoticeBody
	status int // what the relay answered
}

// relayReceiver is a native app vendor's push relay on a loopback port,
// as a relay would check what it receives, written from docs/PROTOCOL.md
// "Push" rather than shared with the server: the Parley-Signature is an
// ES256 signature over "<t>." + body by the key of GET /api/v1/push/vapid,
// t within 5 minutes of the relay's clock, and the Idempotency-Key header
// is the notice's id. Each path answers the statuses queued for it, in
// turn, then 200.
type relayReceiver struct {
	t     *testing.T
	srv   *httptest.Server
	clk   clock.Clock
	vapid string // base64url of the uncompressed point

	mu      sync.Mutex
	answers map[string][]int
	got     chan relayNotice
}

func newRelayReceiver(t *testing.T, clk clock.Clock) *relayReceiver {
	r := &relayReceiver{t: t, clk: clk, answers: map[string][]int{}, got: make(chan relayNotice, 16)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *relayReceiver) url(path string) string { return r.srv.URL + path }

func (r *relayReceiver) host() string {
	u, _ := url.Parse(r.srv.URL)
	return u.Host
}

func (r *relayReceiver) answer(path string, statuses ...int) {
	r.mu.Lock()
	r.answers[path] = append(r.answers[path], statuses...)
	r.mu.Unlock()
}

func (r *relayReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if err := r.verify(req, body); err != nil {
		r.t.Errorf("relay refused %s: %v", req.URL.Path, err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var n wire.PushRelayNotice
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&n); err != nil {
		r.t.Errorf("relay notice %s: %v", body, err)
	}
	if req.Header.Get("Idempotency-Key") == "" || req.Header.Get("Idempotency-Key") != n.Notice.ID {
		r.t.Errorf("Idempotency-Key %q, notice id %q", req.Header.Get("Idempotency-Key"), n.Notice.ID)
	}
	r.mu.Lock()
	status := http.StatusOK
	if q := r.answers[req.URL.Path]; len(q) > 0 {
		status, r.answers[req.URL.Path] = q[0], q[1:]
	}
	r.mu.Unlock()
	r.got <- relayNotice{path: req.URL.Path, header: req.Header.Clone(), raw: string(body), notice: n.Notice, status: status}
	w.WriteHeader(status)
}

func (r *relayReceiver) verify(req *http.Request, body []byte) error {
	if req.Method != http.MethodPost || !strings.HasPrefix(req.Header.Get("Content-Type"), "application/json") {
		return fmt.Errorf("%s with Content-Type %q", req.Method, req.Header.Get("Content-Type"))
	}
	var ts, sig string
	for part := range strings.SplitSeq(req.Header.Get("Parley-Signature"), ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "es256":
			sig = v
		}
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("Parley-Signature %q: no t", req.Header.Get("Parley-Signature"))
	}
	if age := r.clk.Now().Sub(time.Unix(t, 0)); age > 5*time.Minute || age < -5*time.Minute {
		return fmt.Errorf("t is %v away from now", age)
	}
	pubBytes, err := rawURL.DecodeString(r.vapid)
	if err != nil {
		return err
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pubBytes)
	if err != nil {
		return err
	}
	raw, err := rawURL.DecodeString(sig)
	if err != nil || len(raw) != 64 {
		return fmt.Errorf("es256 of %d bytes: %v", len(raw), err)
	}
	h := sha256.Sum256(append([]byte(ts+"."), body...))
	if !ecdsa.Verify(pub, h[:], new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])) {
		return errors.New("signature does not verify with the server's VAPID key")
	}
	// The same signature over another body or time must not verify.
	h2 := sha256.Sum256(append([]byte(strconv.FormatInt(t+1, 10)+"."), body...))
	if ecdsa.Verify(pub, h2[:], new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])) {
		return errors.New("signature verifies for another t")
	}
	return nil
}

func (r *relayReceiver) next(t *testing.T) relayNotice {
	t.Helper()
	return nextFrom(testCtx(t), t, r.got, "relay notice")
}

func (r *relayReceiver) none(t *testing.T, srv *apptest.Server, why string) {
	t.Helper()
	noneFrom(testCtx(t), t, srv.App.PushSettled, r.got, why, func(n relayNotice) string { return "a relay notice " + n.raw })
}

// openRO opens the server's database, either engine, to count rows.
func openRO(t *testing.T, srv *apptest.Server) *sql.DB {
	t.Helper()
	driver, dsn := "sqlite", "file:"+filepath.Join(srv.Cfg.DataDir, sqlstore.FileName)+"?mode=ro&_pragma=busy_timeout(10000)"
	if strings.HasPrefix(srv.Cfg.Store, "postgres") {
		driver, dsn = "pgx", srv.Cfg.Store
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func countRows(t *testing.T, db *sql.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(testCtx(t), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPushRelay: a device with a push relay and no connection makes the
// server POST the relay a notice signed with the VAPID key (checked by the
// relay with the key the API publishes), naming the conversation and the
// sender and never the content; a second message within 5 s is collapsed;
// a 500 is retried after the backoff with the same notice id; a 404
// deletes the registration; DELETE and sign-out remove it. Both engines.
func TestPushRelay(t *testing.T) {
	bothEngines(t, testPushRelay)
}

func testPushRelay(t *testing.T, cfg config.Config) {
	ctx := testCtx(t)
	clk := clock.NewFake(time.UnixMilli(1_790_000_000_000))
	relay := newRelayReceiver(t, clk)
	cfg.Push.AllowInsecureHosts = []string{relay.host()}
	cfg.Push.VAPIDSubject = "mailto:ops@example.com"
	srv := apptest.Start(t, cfg, clk)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
	conv, err := alice.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	id := conv.ConversationID
	if relay.vapid, err = bob.API.VAPIDKey(ctx); err != nil {
		t.Fatal(err)
	}
	reg := client.PushRelay{URL: relay.url("/old"), AppID: "com.example.chat", Pushkey: "old-token"}
	if err := bob.API.RegisterPushRelay(ctx, reg); err != nil {
		t.Fatal(err)
	}
	// Registering again replaces the device's relay.
	reg = client.PushRelay{URL: relay.url("/_parley/notify"), AppID: "com.example.chat", Pushkey: "fcm:bob-token-1"}
	if err := bob.API.RegisterPushRelay(ctx, reg); err != nil {
		t.Fatal(err)
	}
	db := openRO(t, srv)
	if n := countRows(t, db, `SELECT count(*) FROM push_relays`); n != 1 {
		t.Fatalf("%d relays stored, want 1", n)
	}

	ac := served(t, alice.Dial(ctx))
	const secret = "xyzzy-the-distinctive-secret-content"
	send := func(cmid string) {
		t.Helper()
		if _, err := ac.SendMessage(ctx, text(cmid, id, secret+" "+cmid)); err != nil {
			t.Fatal(err)
		}
	}
	send("m1")
	n := relay.next(t)
	want := wire.PushRelayNoticeBody{ID: n.notice.ID, Type: "message", AppID: "com.example.chat", Pushkey: "fcm:bob-token-1",
		ConversationID: id, SenderID: alice.UserID, SenderName: "Alice", Unread: 1, SentAt: n.notice.SentAt}
	if n.path != "/_parley/notify" || n.notice != want {
		t.Fatalf("notice to %s = %+v, want %+v", n.path, n.notice, want)
	}
	if strings.Contains(n.raw, "xyzzy") || strings.Contains(n.raw, "secret") {
		t.Fatalf("the notice carries the content: %s", n.raw)
	}
	if at, err := time.Parse(time.RFC3339, n.notice.SentAt); err != nil || at.Sub(clk.Now()).Abs() > time.Second {
		t.Fatalf("sent_at %q (%v), now %v", n.notice.SentAt, err, clk.Now())
	}
	firstID := n.notice.ID

	// Within 5 s: collapsed.
	send("m2")
	relay.none(t, srv, "a second message within 5 s")

	// After 5 s: the relay fails with 500, the server tries again after
	// the backoff with the same notice, which then goes through.
	clk.Advance(5 * time.Second)
	relay.answer("/_parley/notify", http.StatusInternalServerError)
	send("m3")
	n = relay.next(t)
	if n.status != http.StatusInternalServerError || n.notice.Unread != 3 || n.notice.ID == firstID {
		t.Fatalf("notice after 5 s answered %d: %+v; want a new id and 3 unread", n.status, n.notice)
	}
	if err := clk.WaitForTimers(ctx, 2*time.Second, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second)
	again := relay.next(t)
	if again.status != http.StatusOK || again.notice != n.notice {
		t.Fatalf("retry answered %d with %+v, want the same notice %+v", again.status, again.notice, n.notice)
	}
	relay.none(t, srv, "one retry")

	// A connected device gets nothing through its relay.
	bc := served(t, bob.Dial(ctx))
	clk.Advance(5 * time.Second)
	send("m4")
	if _, err := bc.Next(ctx, "message"); err != nil {
		t.Fatal(err)
	}
	relay.none(t, srv, "the device is connected")

	// A second device whose relay answers 404: told once, then its
	// registration is deleted.
	bob2 := bob.NewDevice(ctx)
	relay.answer("/gone", http.StatusNotFound)
	if err := bob2.RegisterPushRelay(ctx, client.PushRelay{URL: relay.url("/gone"), AppID: "com.example.chat", Pushkey: "apns:dead"}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(5 * time.Second)
	send("m5")
	if n := relay.next(t); n.path != "/gone" || n.status != http.StatusNotFound {
		t.Fatalf("notice to %s answered %d, want /gone 404", n.path, n.status)
	}
	relay.none(t, srv, "only the device not connected, no retry of a 404")
	if n := countRows(t, db, `SELECT count(*) FROM push_relays WHERE pushkey = 'apns:dead'`); n != 0 {
		t.Fatalf("the relay that answered 404 is still registered (%d)", n)
	}
	clk.Advance(5 * time.Second)
	send("m6")
	relay.none(t, srv, "the gone relay was deleted")

	// DELETE removes the device's relay (204, and again with none);
	// sign-out removes another device's.
	if err := bob2.RegisterPushRelay(ctx, client.PushRelay{URL: relay.url("/b2"), AppID: "com.example.chat", Pushkey: "k2"}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := bob.API.UnregisterPushRelay(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := countRows(t, db, `SELECT count(*) FROM push_relays`); n != 1 {
		t.Fatalf("%d relays after DELETE, want bob2's alone", n)
	}
	if err := bob2.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, db, `SELECT count(*) FROM push_relays`); n != 0 {
		t.Fatalf("%d relays after sign-out", n)
	}
}

// TestPushRelayBadInput: a registration the server will not use is 400
// invalid with a message, and stores nothing.
func TestPushRelayBadInput(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	bob := srv.NewUser(ctx, "bob")
	good := `{"url": "https://203.0.113.7/_parley/notify", "app_id": "com.example.chat", "pushkey": "tok"}`
	long := func(n int) string { return strings.Repeat("a", n) }
	for _, c := range []struct{ name, body, msg string }{
		{"not JSON", `{"url": `, "not valid JSON"},
		{"empty body", ``, "empty"},
		{"wrong type", `{"url": 7, "app_id": "a", "pushkey": "k"}`, "wrong type"},
		{"data after the object", good + ` {}`, "after the JSON"},
		{"no url", `{"app_id": "a", "pushkey": "k"}`, "url is required"},
		{"relative url", `{"url": "/notify", "app_id": "a", "pushkey": "k"}`, "url is not an absolute URL"},
		{"http url", `{"url": "http://203.0.113.7/notify", "app_id": "a", "pushkey": "k"}`, "url must be https"},
		{"loopback url", `{"url": "https://127.0.0.1/notify", "app_id": "a", "pushkey": "k"}`, "not a public address"},
		{"private url", `{"url": "https://10.1.2.3:8443/notify", "app_id": "a", "pushkey": "k"}`, "not a public address"},
		{"localhost by name", `{"url": "https://localhost/notify", "app_id": "a", "pushkey": "k"}`, "url"},
		{"url with credentials", `{"url": "https://u:p@203.0.113.7/notify", "app_id": "a", "pushkey": "k"}`, "url"},
		{"url too long", `{"url": "https://203.0.113.7/` + long(2048) + `", "app_id": "a", "pushkey": "k"}`, "longer than 2048"},
		{"no app_id", `{"url": "https://203.0.113.7/n", "pushkey": "k"}`, "app_id is required"},
		{"app_id too long", `{"url": "https://203.0.113.7/n", "app_id": "` + long(257) + `", "pushkey": "k"}`, "longer than 256"},
		{"app_id not ASCII", `{"url": "https://203.0.113.7/n", "app_id": "com.exämple", "pushkey": "k"}`, "printable ASCII"},
		{"app_id with a control", `{"url": "https://203.0.113.7/n", "app_id": "com\nexample", "pushkey": "k"}`, "printable ASCII"},
		{"no pushkey", `{"url": "https://203.0.113.7/n", "app_id": "a"}`, "pushkey is required"},
		{"pushkey too long", `{"url": "https://203.0.113.7/n", "app_id": "a", "pushkey": "` + long(4097) + `"}`, "longer than 4096"},
		{"pushkey with NUL", `{"url": "https://203.0.113.7/n", "app_id": "a", "pushkey": "a\u0000b"}`, "NUL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/api/v1/push/relays", strings.NewReader(c.body))
			req.Header.Set("Authorization", "Bearer "+bob.Session.Token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var eb wire.ErrorBody
			_ = json.NewDecoder(resp.Body).Decode(&eb)
			if resp.StatusCode != http.StatusBadRequest || eb.Error.Code != "invalid" || !strings.Contains(eb.Error.Message, c.msg) {
				t.Fatalf("POST = %d %+v, want 400 invalid saying %q", resp.StatusCode, eb.Error, c.msg)
			}
		})
	}
	db := openRO(t, srv)
	if n := countRows(t, db, `SELECT count(*) FROM push_relays`); n != 0 {
		t.Fatalf("%d relays stored from bad input", n)
	}
	// The limits themselves pass; so does a public address (an IP
	// literal: no lookup). The answer is 201 {}.
	body := `{"url": "https://203.0.113.7/` + long(2048-len("https://203.0.113.7/")) + `", "app_id": "` + long(256) + `", "pushkey": "` + long(4096) + `"}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/api/v1/push/relays", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+bob.Session.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || strings.TrimSpace(string(got)) != "{}" {
		t.Fatalf("POST at the limits = %d %s, want 201 {}", resp.StatusCode, got)
	}
	if n := countRows(t, db, `SELECT count(*) FROM push_relays`); n != 1 {
		t.Fatalf("%d relays stored", n)
	}
}

// TestPushDevicePresenceCluster: on PostgreSQL and Redis, a user with two
// devices, each with a Web Push subscription and a relay: device 1 is
// connected to node B, device 2 is not connected anywhere. A message
// committed on node A pushes device 2, by both, and not device 1: the
// directory knows devices, not only users.
func TestPushDevicePresenceCluster(t *testing.T) {
	ctx := testCtx(t)
	ps := newPushService(t, clock.Real{})
	relay := newRelayReceiver(t, clock.Real{})
	u, _ := url.Parse(ps.srv.URL)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := key.Bytes()
	na, nb := twoNodesWith(t, func(c *config.Config) {
		c.Push.VAPIDPrivateKey = rawURL.EncodeToString(raw)
		c.Push.VAPIDSubject = "mailto:ops@example.com"
		c.Push.AllowInsecureHosts = []string{u.Host, relay.host()}
	})
	alice, bob := na.NewUser(ctx, "alice"), na.NewUser(ctx, "bob")
	d1, d2 := bob.NewDeviceOn(ctx, nb), bob.NewDeviceOn(ctx, nb)
	if ps.vapid, err = d1.VAPIDKey(ctx); err != nil {
		t.Fatal(err)
	}
	relay.vapid = ps.vapid
	for name, d := range map[string]*client.Client{"d1": d1, "d2": d2} {
		if err := d.SubscribePush(ctx, ps.browser.subscription(ps.endpoint("/sub/"+name))); err != nil {
			t.Fatal(err)
		}
		if err := d.RegisterPushRelay(ctx, client.PushRelay{URL: relay.url("/relay/" + name), AppID: "com.example.chat", Pushkey: "key-" + name}); err != nil {
			t.Fatal(err)
		}
	}
	conv, err := alice.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	// Another device of bob's connects to node B first: device 1 is then
	// not the user's first connection there, and is counted on its own.
	c0 := served(t, apptest.Dial(ctx, t, bob.NewDeviceOn(ctx, nb)))
	c1 := served(t, apptest.Dial(ctx, t, d1)) // device 1 on node B
	ac := served(t, alice.Dial(ctx))          // alice on node A, which commits
	if _, err := ac.SendMessage(ctx, text("p1", conv.ConversationID, "hello")); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Next(ctx, "message"); err != nil {
		t.Fatal(err)
	}
	if r := ps.next(t); r.path != "/sub/d2" || r.payload.ConversationID != conv.ConversationID {
		t.Fatalf("web push to %s: %+v; want /sub/d2", r.path, r.payload)
	}
	if n := relay.next(t); n.path != "/relay/d2" || n.notice.Pushkey != "key-d2" || n.notice.ConversationID != conv.ConversationID {
		t.Fatalf("relay notice to %s: %+v; want /relay/d2", n.path, n.notice)
	}
	ps.none(t, na, "device 1 is connected to node B")
	relay.none(t, na, "device 1 is connected to node B")
	ps.none(t, nb, "node B did not commit")
	relay.none(t, nb, "node B did not commit")

	// Device 1 gone too, while bob stays online on node B through the
	// other: both devices are pushed (a new conversation, so no collapse
	// window applies).
	if err := c1.Close(); err != nil {
		t.Fatal(err)
	}
	group, err := alice.API.CreateGroup(ctx, "climbing", []string{bob.UserID})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "device 1's disconnect to reach the directory", func() bool {
		on, err := na.App.DeviceOnline(ctx, bob.UserID, sessionOf(ctx, t, d1))
		return err == nil && !on
	})
	if _, err := ac.SendMessage(ctx, text("p2", group.ConversationID, "hello all")); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for range 2 {
		got[ps.next(t).path] = true
		got[relay.next(t).path] = true
	}
	if !got["/sub/d1"] || !got["/sub/d2"] || !got["/relay/d1"] || !got["/relay/d2"] {
		t.Fatalf("pushed %v, want both devices by both", got)
	}
	if _, err := c0.Next(ctx, "message"); err != nil {
		t.Fatal(err)
	}
}

// sessionOf is the session (device) id of c's token.
func sessionOf(ctx context.Context, t *testing.T, c *client.Client) string {
	t.Helper()
	for id, s := range sessionIDs(ctx, t, c) {
		if s.Current {
			return id
		}
	}
	t.Fatal("no current session")
	return ""
}

// waitFor polls cond until it holds or the test's time is up.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx := testCtx(t)
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestPushRelayDisabled: a cluster node without a shared VAPID key pushes
// nothing and answers the relay calls as it answers the subscription
// calls: 404 not_found.
func TestPushRelayDisabled(t *testing.T) {
	ctx := testCtx(t)
	na, _ := twoNodes(t)
	bob := na.NewUser(ctx, "bob")
	reg := client.PushRelay{URL: "https://203.0.113.7/n", AppID: "com.example.chat", Pushkey: "k"}
	for name, call := range map[string]func() error{
		"subscribe":   func() error { return bob.API.SubscribePush(ctx, newBrowser(t).subscription("https://203.0.113.7/s")) },
		"register":    func() error { return bob.API.RegisterPushRelay(ctx, reg) },
		"unregister":  func() error { return bob.API.UnregisterPushRelay(ctx) },
		"unsubscribe": func() error { return bob.API.UnsubscribePush(ctx) },
	} {
		var ce *client.Error
		if err := call(); !errors.As(err, &ce) || ce.Status != http.StatusNotFound || ce.Code != "not_found" {
			t.Errorf("%s = %v, want 404 not_found", name, err)
		}
	}
}
