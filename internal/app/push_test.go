package app_test

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
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

	_ "modernc.org/sqlite"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/store/sqlstore"
	"github.com/parleychat/parley/wire"
)

var rawURL = base64.RawURLEncoding

// browser is a user agent's side of a push subscription: its own key
// pair and auth secret, as a browser makes them in pushManager.subscribe.
type browser struct {
	key  *ecdh.PrivateKey
	auth []byte
}

func newBrowser(t *testing.T) browser {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	auth := make([]byte, 16)
	_, _ = rand.Read(auth)
	return browser{key: k, auth: auth}
}

func (b browser) subscription(endpoint string) client.PushSubscription {
	return client.PushSubscription{Endpoint: endpoint, Keys: wire.PushSubscriptionKeys{
		P256DH: rawURL.EncodeToString(b.key.PublicKey().Bytes()), Auth: rawURL.EncodeToString(b.auth),
	}}
}

// decrypt reads an aes128gcm body (RFC 8188) encrypted for this browser
// (RFC 8291 §3.4), written here from the RFCs rather than shared with the
// server's side, so that a mistake is not made the same way twice.
func (b browser) decrypt(body []byte) ([]byte, error) {
	if len(body) < 21 {
		return nil, errors.New("short body")
	}
	salt, rs, idlen := body[:16], binary.BigEndian.Uint32(body[16:20]), int(body[20])
	if idlen != 65 || len(body) < 21+idlen {
		return nil, fmt.Errorf("key id of %d bytes", idlen)
	}
	asPub, rec := body[21:21+idlen], body[21+idlen:]
	if uint32(len(rec)) > rs {
		return nil, errors.New("more than one record")
	}
	as, err := ecdh.P256().NewPublicKey(asPub)
	if err != nil {
		return nil, err
	}
	secret, err := b.key.ECDH(as)
	if err != nil {
		return nil, err
	}
	info := append(append([]byte("WebPush: info\x00"), b.key.PublicKey().Bytes()...), asPub...)
	prk, err := hkdf.Extract(sha256.New, secret, b.auth)
	if err != nil {
		return nil, err
	}
	ikm, err := hkdf.Expand(sha256.New, prk, string(info), 32)
	if err != nil {
		return nil, err
	}
	prk2, _ := hkdf.Extract(sha256.New, ikm, salt)
	cek, _ := hkdf.Expand(sha256.New, prk2, "Content-Encoding: aes128gcm\x00", 16)
	nonce, _ := hkdf.Expand(sha256.New, prk2, "Content-Encoding: nonce\x00", 12)
	blk, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, _ := cipher.NewGCM(blk)
	plain, err := gcm.Open(nil, nonce, rec, nil)
	if err != nil {
		return nil, err
	}
	i := len(plain) - 1
	for i >= 0 && plain[i] == 0 {
		i--
	}
	if i < 0 || plain[i] != 2 {
		return nil, errors.New("no last-record delimiter")
	}
	return plain[:i], nil
}

// received is one push the service accepted.
type received struct {
	path    string
	header  http.Header
	payload wire.PushNotice
	raw     string
}

// pushService is a push service on a loopback port: it checks each push's
// VAPID token (signature by the server's key, aud its own origin, exp
// within 24 h of the server's clock, a subject) and decrypts its payload
// as the subscribed browser would. A path marked gone answers 410.
type pushService struct {
	t       *testing.T
	srv     *httptest.Server
	clk     clock.Clock
	browser browser
	vapid   string // the server's key, from GET /api/v1/push/vapid

	mu   sync.Mutex
	gone map[string]bool
	got  chan received
}

func newPushService(t *testing.T, clk clock.Clock) *pushService {
	p := &pushService{t: t, clk: clk, browser: newBrowser(t), gone: map[string]bool{}, got: make(chan received, 16)}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *pushService) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := p.check(r, body); err != nil {
		p.t.Errorf("push service refused %s: %v", r.URL.Path, err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	plain, err := p.browser.decrypt(body)
	if err != nil {
		p.t.Errorf("decrypt push: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rec := received{path: r.URL.Path, header: r.Header.Clone(), raw: string(plain)}
	if err := json.Unmarshal(plain, &rec.payload); err != nil {
		p.t.Errorf("push payload %q: %v", plain, err)
	}
	p.got <- rec
	p.mu.Lock()
	gone := p.gone[r.URL.Path]
	p.mu.Unlock()
	if gone {
		w.WriteHeader(http.StatusGone)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

func (p *pushService) check(r *http.Request, body []byte) error {
	if r.Method != http.MethodPost || r.Header.Get("Content-Encoding") != "aes128gcm" {
		return fmt.Errorf("%s with Content-Encoding %q", r.Method, r.Header.Get("Content-Encoding"))
	}
	if ttl, err := strconv.Atoi(r.Header.Get("TTL")); err != nil || ttl <= 0 {
		return fmt.Errorf("TTL %q", r.Header.Get("TTL"))
	}
	if r.Header.Get("Urgency") != "high" {
		return fmt.Errorf("Urgency %q", r.Header.Get("Urgency"))
	}
	if tp := r.Header.Get("Topic"); tp == "" || len(tp) > 32 || strings.Trim(tp, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		return fmt.Errorf("Topic %q is not up to 32 base64url characters", tp)
	}
	tok, k, ok := strings.Cut(strings.TrimPrefix(r.Header.Get("Authorization"), "vapid t="), ", k=")
	if !ok || k != p.vapid {
		return fmt.Errorf("Authorization %q does not name the server's key %q", r.Header.Get("Authorization"), p.vapid)
	}
	pubBytes, err := rawURL.DecodeString(k)
	if err != nil {
		return err
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pubBytes)
	if err != nil {
		return err
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return fmt.Errorf("token %q", tok)
	}
	sig, err := rawURL.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return fmt.Errorf("signature of %d bytes: %v", len(sig), err)
	}
	h := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(pub, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return errors.New("token signature does not verify with the server's key")
	}
	claimsJSON, err := rawURL.DecodeString(parts[1])
	if err != nil {
		return err
	}
	var claims struct {
		Aud string `json:"aud"`
		Exp int64  `json:"exp"`
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(claimsJSON, &claims); err != nil {
		return err
	}
	u, _ := url.Parse(p.srv.URL)
	if claims.Aud != u.Scheme+"://"+u.Host {
		return fmt.Errorf("aud %q, want %q", claims.Aud, u.Scheme+"://"+u.Host)
	}
	now := p.clk.Now()
	if exp := time.Unix(claims.Exp, 0); !exp.After(now) || exp.Sub(now) > 24*time.Hour {
		return fmt.Errorf("exp %v is not within 24 h after %v", exp, now)
	}
	if claims.Sub != "mailto:ops@example.com" {
		return fmt.Errorf("sub %q", claims.Sub)
	}
	return nil
}

func (p *pushService) endpoint(path string) string { return p.srv.URL + path }

func (p *pushService) markGone(path string) {
	p.mu.Lock()
	p.gone[path] = true
	p.mu.Unlock()
}

// next waits for the next push.
func (p *pushService) next(t *testing.T) received {
	t.Helper()
	return nextFrom(testCtx(t), t, p.got, "push")
}

// none checks, once the server says every push is done, that none came.
func (p *pushService) none(t *testing.T, srv *apptest.Server, why string) {
	t.Helper()
	noneFrom(testCtx(t), t, srv.App.PushSettled, p.got, why, func(r received) string { return fmt.Sprintf("a push %+v", r.payload) })
}

// TestWebPush: a device with a push subscription and no connection is
// notified of a message for it, with the conversation and the sender and
// never the content; a second message within 5 s is not pushed (the next
// notice's badge counts it); a connected device is not pushed; a
// subscription the push service says is gone is deleted.
func TestWebPush(t *testing.T) {
	ctx := testCtx(t)
	clk := clock.NewFake(time.UnixMilli(1_790_000_000_000))
	ps := newPushService(t, clk)
	cfg := apptest.Config(t)
	u, _ := url.Parse(ps.srv.URL)
	cfg.Push.AllowInsecureHosts = []string{u.Host}
	cfg.Push.VAPIDSubject = "mailto:ops@example.com"
	srv := apptest.Start(t, cfg, clk)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
	conv, err := alice.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	id := conv.ConversationID
	if ps.vapid, err = bob.API.VAPIDKey(ctx); err != nil {
		t.Fatal(err)
	}
	if k, _ := rawURL.DecodeString(ps.vapid); len(k) != 65 || k[0] != 4 {
		t.Fatalf("vapid key %q is not an uncompressed P-256 point", ps.vapid)
	}
	if err := bob.API.SubscribePush(ctx, ps.browser.subscription(ps.endpoint("/sub/old"))); err != nil {
		t.Fatal(err)
	}
	// Subscribing again replaces the device's subscription.
	if err := bob.API.SubscribePush(ctx, ps.browser.subscription(ps.endpoint("/sub/bob"))); err != nil {
		t.Fatal(err)
	}

	ac := served(t, alice.Dial(ctx))
	send := func(cmid string) {
		t.Helper()
		if _, err := ac.SendMessage(ctx, text(cmid, id, "the secret content "+cmid)); err != nil {
			t.Fatal(err)
		}
	}
	send("m1")
	r := ps.next(t)
	want := wire.PushNotice{Type: "message", ConversationID: id, SenderID: alice.UserID, SenderName: "Alice", Unread: 1}
	if r.path != "/sub/bob" || r.payload != want {
		t.Fatalf("push to %s = %+v, want %+v to /sub/bob", r.path, r.payload, want)
	}
	if strings.Contains(r.raw, "secret") || r.header.Get("Topic") == id {
		t.Fatalf("push carries content or the conversation id in clear: %s, Topic %s", r.raw, r.header.Get("Topic"))
	}
	topic := r.header.Get("Topic")

	send("m2")
	ps.none(t, srv, "a second message within 5 s")

	clk.Advance(5 * time.Second)
	send("m3")
	r = ps.next(t)
	if r.payload.Unread != 3 || r.header.Get("Topic") != topic {
		t.Fatalf("push after 5 s = %+v, Topic %s; want 3 unread and the same topic", r.payload, r.header.Get("Topic"))
	}

	// Bob's device connected: the connection delivers, nothing is pushed.
	bc := served(t, bob.Dial(ctx))
	clk.Advance(5 * time.Second)
	send("m4")
	if _, err := bc.Next(ctx, "message"); err != nil {
		t.Fatal(err)
	}
	ps.none(t, srv, "the device is connected")

	// A second device of bob's, never connected, whose subscription the
	// push service says is gone: pushed once, then deleted.
	bob2 := bob.NewDevice(ctx)
	ps.markGone("/sub/gone")
	// Same browser keys: the push service decrypts with its one browser's.
	if err := bob2.SubscribePush(ctx, ps.browser.subscription(ps.endpoint("/sub/gone"))); err != nil {
		t.Fatal(err)
	}
	clk.Advance(5 * time.Second)
	send("m5")
	if r := ps.next(t); r.path != "/sub/gone" {
		t.Fatalf("push went to %s, want /sub/gone", r.path)
	}
	ps.none(t, srv, "only the device not connected")
	db, err := sql.Open("sqlite", "file:"+filepath.Join(srv.Cfg.DataDir, sqlstore.FileName)+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM push_subscriptions WHERE endpoint LIKE '%/sub/gone'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("gone subscriptions left: %d, %v", n, err)
	}
	clk.Advance(5 * time.Second)
	send("m6")
	ps.none(t, srv, "the gone subscription was deleted")

	// Unsubscribed, and signed out: nothing is kept.
	if err := bob.API.UnsubscribePush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM push_subscriptions`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("subscriptions left after DELETE: %d, %v", n, err)
	}
}

// TestWebPushBadSubscriptions: what a browser could not have made, and
// endpoints that would make the server probe private addresses, are 400
// invalid; a signed-out device's subscription goes with it.
func TestWebPushBadSubscriptions(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	bob := srv.NewUser(ctx, "bob")
	good := newBrowser(t).subscription("https://push.example.com/sub/1")
	compressed := rawURL.EncodeToString(append([]byte{2}, make([]byte, 32)...))
	notOnCurve := rawURL.EncodeToString(append([]byte{4}, make([]byte, 64)...))
	for _, c := range []struct {
		name string
		edit func(*client.PushSubscription)
	}{
		{"http endpoint", func(s *client.PushSubscription) { s.Endpoint = "http://push.example.com/sub/1" }},
		{"loopback endpoint", func(s *client.PushSubscription) { s.Endpoint = "https://127.0.0.1/sub/1" }},
		{"private endpoint", func(s *client.PushSubscription) { s.Endpoint = "https://10.1.2.3:8443/sub/1" }},
		{"link-local endpoint", func(s *client.PushSubscription) { s.Endpoint = "https://[fe80::1]/sub/1" }},
		{"localhost by name", func(s *client.PushSubscription) { s.Endpoint = "https://localhost/sub/1" }},
		{"relative endpoint", func(s *client.PushSubscription) { s.Endpoint = "/sub/1" }},
		{"compressed p256dh", func(s *client.PushSubscription) { s.Keys.P256DH = compressed }},
		{"p256dh not on the curve", func(s *client.PushSubscription) { s.Keys.P256DH = notOnCurve }},
		{"p256dh not base64url", func(s *client.PushSubscription) { s.Keys.P256DH = "not base64!" }},
		{"short auth", func(s *client.PushSubscription) { s.Keys.Auth = rawURL.EncodeToString(make([]byte, 15)) }},
		{"no auth", func(s *client.PushSubscription) { s.Keys.Auth = "" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := good
			c.edit(&s)
			err := bob.API.SubscribePush(ctx, s)
			var ce *client.Error
			if !errors.As(err, &ce) || ce.Status != http.StatusBadRequest || ce.Code != "invalid" {
				t.Fatalf("SubscribePush = %v, want 400 invalid", err)
			}
		})
	}
	// A public address passes (no lookup: an IP literal).
	s := good
	s.Endpoint = "https://203.0.113.7/sub/1"
	if err := bob.API.SubscribePush(ctx, s); err != nil {
		t.Fatalf("a public endpoint: %v", err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(srv.Cfg.DataDir, sqlstore.FileName)+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := bob.API.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM push_subscriptions`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("subscriptions left after sign-out: %d, %v", n, err)
	}
}

// TestWebPushCluster: on PostgreSQL and Redis, the node that commits a
// message pushes it, once, with the key every node shares, to a device
// that subscribed through another node; the 5 s window holds across
// nodes; a device connected to another node is not pushed.
func TestWebPushCluster(t *testing.T) {
	ctx := testCtx(t)
	ps := newPushService(t, clock.Real{})
	u, _ := url.Parse(ps.srv.URL)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := key.Bytes()
	na, nb := twoNodesWith(t, func(c *config.Config) {
		c.Push.VAPIDPrivateKey = rawURL.EncodeToString(raw)
		c.Push.VAPIDSubject = "mailto:ops@example.com"
		c.Push.AllowInsecureHosts = []string{u.Host}
	})
	alice, bob := na.NewUser(ctx, "alice"), na.NewUser(ctx, "bob")
	conv, err := alice.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	bobB := on(nb, bob)
	if ps.vapid, err = bobB.VAPIDKey(ctx); err != nil {
		t.Fatal(err)
	}
	if k, err := alice.API.VAPIDKey(ctx); err != nil || k != ps.vapid {
		t.Fatalf("node A's key %q (%v), node B's %q: not shared", k, err, ps.vapid)
	}
	if err := bobB.SubscribePush(ctx, ps.browser.subscription(ps.endpoint("/sub/bob"))); err != nil {
		t.Fatal(err)
	}
	ac := served(t, alice.Dial(ctx))
	if _, err := ac.SendMessage(ctx, text("c1", conv.ConversationID, "hello")); err != nil {
		t.Fatal(err)
	}
	if r := ps.next(t); r.payload.ConversationID != conv.ConversationID || r.payload.SenderID != alice.UserID {
		t.Fatalf("push %+v", r.payload)
	}
	ps.none(t, nb, "node B did not commit the message")
	ps.none(t, na, "one push per message")

	// Within 5 s, a message committed by the other node is collapsed too:
	// the window is kept in Redis, shared.
	a2 := served(t, apptest.Dial(ctx, t, alice.NewDeviceOn(ctx, nb)))
	if _, err := a2.SendMessage(ctx, text("c1b", conv.ConversationID, "again")); err != nil {
		t.Fatal(err)
	}
	ps.none(t, nb, "a second message within 5 s, from node B")

	// Bob connected to node B: node A, which commits, does not push.
	group, err := alice.API.CreateGroup(ctx, "climbing", []string{bob.UserID})
	if err != nil {
		t.Fatal(err)
	}
	bc := served(t, apptest.Dial(ctx, t, bobB))
	if _, err := ac.SendMessage(ctx, text("c2", group.ConversationID, "hello")); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := bc.Next(ctx, "message")
		if err != nil {
			t.Fatal(err)
		}
		if f.ConversationID == group.ConversationID && f.SenderID == alice.UserID && f.MessageType == "text" {
			break
		}
	}
	ps.none(t, na, "bob is connected to node B")
}
