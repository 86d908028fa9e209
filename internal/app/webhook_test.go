package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/wire"
)

// hookReceiver is a bot's webhook endpoint as its author would write it:
// it verifies each request's signature, checks the idempotency key, and
// accepts each conversation's messages only in order (a replay of an
// event it accepted is at-least-once, not a violation). fail decides an
// answer: 0 accepts; a status refuses; hang holds the request until the
// server gives up.
type hookReceiver struct {
	t    testing.TB
	srv  *httptest.Server
	host string
	clk  clock.Clock

	mu         sync.Mutex
	secret     string
	fail       func(ev wire.WebhookEvent) int
	accepted   map[string]bool  // event ids
	lastSeq    map[string]int64 // per conversation, messages accepted
	requests   int
	violations []string
	got        chan wire.WebhookEvent // each event accepted the first time
	quiet      bool                   // accepted events are counted, not queued (benchmarks)
	n          atomic.Int64           // events accepted
	requested  chan struct{}          // a request came (never blocks)
}

const hang = -1

func newHookReceiver(t testing.TB, clk clock.Clock) *hookReceiver {
	if clk == nil {
		clk = clock.Real{}
	}
	r := &hookReceiver{t: t, clk: clk, accepted: map[string]bool{}, lastSeq: map[string]int64{}, got: make(chan wire.WebhookEvent, 1000), requested: make(chan struct{}, 1)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	u, _ := url.Parse(r.srv.URL)
	r.host = u.Host
	t.Cleanup(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, v := range r.violations {
			t.Errorf("webhook receiver: %s", v)
		}
	})
	return r
}

func (r *hookReceiver) url() string { return r.srv.URL + "/hook" }

func (r *hookReceiver) setSecret(s string) {
	r.mu.Lock()
	r.secret = s
	r.mu.Unlock()
}

func (r *hookReceiver) setFail(f func(ev wire.WebhookEvent) int) {
	r.mu.Lock()
	r.fail = f
	r.mu.Unlock()
}

func (r *hookReceiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests
}

func (r *hookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.requests++
	secret, fail := r.secret, r.fail
	r.mu.Unlock()
	select {
	case r.requested <- struct{}{}:
	default:
	}
	violation := func(format string, args ...any) {
		r.mu.Lock()
		r.violations = append(r.violations, sprintf(format, args...))
		r.mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
	}
	if err := client.VerifyWebhook(secret, req.Header.Get("Parley-Signature"), body, r.clk.Now(), 5*time.Minute); err != nil {
		violation("bad signature %q on %s", req.Header.Get("Parley-Signature"), body)
		return
	}
	var ev wire.WebhookEvent
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" {
		violation("bad body %s: %v", body, err)
		return
	}
	if req.Header.Get("Idempotency-Key") != ev.ID || req.Header.Get("Parley-Event-Id") != ev.ID || req.Header.Get("Parley-Event-Type") != ev.Type {
		violation("headers %v do not match event %s %s", req.Header, ev.ID, ev.Type)
		return
	}
	if fail != nil {
		switch code := fail(ev); code {
		case 0:
		case hang:
			<-req.Context().Done()
			return
		default:
			w.WriteHeader(code)
			return
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.accepted[ev.ID] {
		return // a replay: at least once
	}
	if ev.Type == wire.TypeMessage {
		var m wire.Message
		_ = json.Unmarshal(ev.Data, &m)
		if m.SequenceNumber <= r.lastSeq[ev.ConversationID] {
			r.violations = append(r.violations, sprintf("message %d of %s after %d", m.SequenceNumber, ev.ConversationID, r.lastSeq[ev.ConversationID]))
		}
		r.lastSeq[ev.ConversationID] = m.SequenceNumber
	}
	r.accepted[ev.ID] = true
	r.n.Add(1)
	if !r.quiet {
		r.got <- ev
	}
}

// next returns the next event accepted for the first time.
func (r *hookReceiver) next(ctx context.Context) wire.WebhookEvent {
	r.t.Helper()
	return nextFrom(ctx, r.t, r.got, "webhook event")
}

// nextMessage returns the next accepted event, which must be a message.
func (r *hookReceiver) nextMessage(ctx context.Context) wire.Message {
	r.t.Helper()
	ev := r.next(ctx)
	if ev.Type != wire.TypeMessage {
		r.t.Fatalf("webhook event %s %s, want a message", ev.Type, ev.Data)
	}
	var m wire.Message
	if err := json.Unmarshal(ev.Data, &m); err != nil {
		r.t.Fatal(err)
	}
	return m
}

// none checks that nothing more was accepted once the server is idle.
func (r *hookReceiver) none(ctx context.Context, srv *apptest.Server, why string) {
	r.t.Helper()
	noneFrom(ctx, r.t, srv.App.WebhooksSettled, r.got, why, func(ev wire.WebhookEvent) string { return ev.Type + " " + string(ev.Data) })
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// apiCode is the error code of a client error.
func apiCode(err error) wire.Code {
	var e *client.Error
	if errors.As(err, &e) {
		return wire.Code(e.Code)
	}
	return ""
}

// TestWebhookDelivers: what reaches a bot with a webhook (a person's
// messages, reactions, edits, the system messages of its groups) is
// POSTed to it signed and in order; its own messages are not; the sender
// is told "delivered"; only the owner manages it; bad URLs are refused.
func TestWebhookDelivers(t *testing.T) {
	bothEngines(t, func(t *testing.T, cfg config.Config) {
		ctx := testCtx(t)
		rec := newHookReceiver(t, nil)
		cfg.Webhook.AllowInsecureHosts = []string{rec.host}
		srv := apptest.Start(t, cfg, nil)
		owner, alice := srv.NewUser(ctx, "owner"), srv.NewUser(ctx, "alice")
		k, bot := newBot(ctx, t, srv, owner, "hookbot")

		for _, bad := range []string{
			"http://example.com/hook", "https://10.0.0.7/hook", "https://127.0.0.1/hook", "https://[::1]/hook",
			"ftp://example.com/hook", "/hook", "https://user:pw@example.com/hook", "https://example.com/" + strings.Repeat("a", 2100),
		} {
			if _, err := owner.API.SetWebhook(ctx, k.BotID, bad); apiCode(err) != wire.CodeInvalid {
				t.Errorf("SetWebhook(%.60q) = %v, want invalid", bad, err)
			}
		}
		if err := owner.API.Do(ctx, http.MethodPut, "/api/v1/bots/"+k.BotID+"/webhook", map[string]any{"url": 7}, nil); apiCode(err) != wire.CodeInvalid {
			t.Errorf("a url that is not a string: %v", err)
		}
		if _, err := alice.API.SetWebhook(ctx, k.BotID, rec.url()); apiCode(err) != wire.CodeNotFound {
			t.Errorf("another user's bot: %v, want not_found", err)
		}
		if _, err := bot.SetWebhook(ctx, k.BotID, rec.url()); apiCode(err) != wire.CodeNotFound {
			t.Errorf("the bot itself: %v, want not_found", err)
		}
		if _, err := owner.API.Webhook(ctx, k.BotID); apiCode(err) != wire.CodeNotFound {
			t.Errorf("no webhook yet: %v", err)
		}

		hook, err := owner.API.SetWebhook(ctx, k.BotID, rec.url())
		if err != nil || !strings.HasPrefix(hook.Secret, "whsec_") || hook.URL != rec.url() {
			t.Fatalf("set webhook: %+v %v", hook, err)
		}
		rec.setSecret(hook.Secret)
		if got, err := owner.API.Webhook(ctx, k.BotID); err != nil || got.Secret != "" || got.URL != rec.url() {
			t.Fatalf("get webhook = %+v %v: the secret is shown once", got, err)
		}

		conv, err := alice.API.CreateDirect(ctx, k.UserID)
		if err != nil {
			t.Fatal(err)
		}
		id := conv.ConversationID
		ac := served(t, alice.Dial(ctx))
		var ids []string
		for _, c := range []string{"one", "two", "three"} {
			a, err := ac.SendMessage(ctx, text(c, id, "hello "+c))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, a.MessageID)
		}
		for i, c := range []string{"one", "two", "three"} {
			m := rec.nextMessage(ctx)
			if m.MessageID != ids[i] || m.Content != "hello "+c || m.SenderID != alice.UserID || m.ConversationID != id {
				t.Fatalf("webhook message %d = %+v", i, m)
			}
		}
		delivered := map[string]bool{}
		for len(delivered) < 3 {
			f, err := ac.Next(ctx, "status")
			if err != nil {
				t.Fatal(err)
			}
			if f.Status == wire.StatusDelivered {
				delivered[f.MessageID] = true
			}
		}

		// Its own messages are not sent back to it.
		if _, err := bot.SendREST(ctx, id, "bot-1", text("", id, "beep")); err != nil {
			t.Fatal(err)
		}
		if err := ac.React(ctx, ids[0], "👍"); err != nil {
			t.Fatal(err)
		}
		if ev := rec.next(ctx); ev.Type != wire.TypeReaction || !strings.Contains(string(ev.Data), "👍") {
			t.Fatalf("after the bot's own message: %s %s, want alice's reaction", ev.Type, ev.Data)
		}
		if err := ac.Edit(ctx, ids[1], "hello TWO"); err != nil {
			t.Fatal(err)
		}
		if ev := rec.next(ctx); ev.Type != wire.TypeMessageEdited || !strings.Contains(string(ev.Data), "hello TWO") {
			t.Fatalf("edit: %s %s", ev.Type, ev.Data)
		}

		// A group: the bot learns it was added, hears the group, and
		// learns it was removed; nothing after.
		g, err := owner.API.CreateGroup(ctx, "with a bot", []string{alice.UserID})
		if err != nil {
			t.Fatal(err)
		}
		if err := owner.API.Do(ctx, http.MethodPost, "/api/v1/conversations/"+g.ConversationID+"/participants", map[string]string{"user_id": k.UserID}, nil); err != nil {
			t.Fatal(err)
		}
		if m := rec.nextMessage(ctx); m.ConversationID != g.ConversationID || m.MessageType != "system" || !strings.Contains(m.Content, k.UserID) {
			t.Fatalf("added to a group: %+v", m)
		}
		if _, err := ac.SendMessage(ctx, text("g1", g.ConversationID, "hi all")); err != nil {
			t.Fatal(err)
		}
		if m := rec.nextMessage(ctx); m.Content != "hi all" {
			t.Fatalf("group message: %+v", m)
		}
		if err := owner.API.Do(ctx, http.MethodDelete, "/api/v1/conversations/"+g.ConversationID+"/participants/"+k.UserID, nil, nil); err != nil {
			t.Fatal(err)
		}
		if m := rec.nextMessage(ctx); m.MessageType != "system" || !strings.Contains(m.Content, k.UserID) {
			t.Fatalf("removed from the group: %+v", m)
		}
		if _, err := ac.SendMessage(ctx, text("g2", g.ConversationID, "bot gone")); err != nil {
			t.Fatal(err)
		}
		rec.none(ctx, srv, "a message after the bot left")

		if err := owner.API.DeleteWebhook(ctx, k.BotID); err != nil {
			t.Fatal(err)
		}
		if _, err := ac.SendMessage(ctx, text("four", id, "hello four")); err != nil {
			t.Fatal(err)
		}
		rec.none(ctx, srv, "after the webhook was deleted")
		if err := owner.API.DeleteWebhook(ctx, k.BotID); apiCode(err) != wire.CodeNotFound {
			t.Fatalf("delete twice: %v", err)
		}
	})
}

// settle waits until the server has no webhook run going.
func settle(ctx context.Context, t *testing.T, srv *apptest.Server) {
	t.Helper()
	if err := srv.App.WebhooksSettled(ctx); err != nil {
		t.Fatal(err)
	}
}

// hookEnv is a server with a bot whose webhook is a receiver, its owner,
// and a person with a 1:1 (conv) with the bot.
type hookEnv struct {
	srv          *apptest.Server
	bot          client.BotKey
	owner, alice *apptest.User
	conv         string
}

// hookSetup starts a hookEnv on clk.
func hookSetup(ctx context.Context, t testing.TB, cfg config.Config, clk clock.Clock, rec *hookReceiver) hookEnv {
	t.Helper()
	cfg.Webhook.AllowInsecureHosts = []string{rec.host}
	return hookedBot(ctx, t, apptest.Start(t, cfg, clk), rec)
}

// hookedBot makes on srv the users of a hookEnv: an owner, its bot with
// rec as its webhook, and alice with a 1:1 with the bot.
func hookedBot(ctx context.Context, t testing.TB, srv *apptest.Server, rec *hookReceiver) hookEnv {
	t.Helper()
	owner, alice := srv.NewUser(ctx, "owner"), srv.NewUser(ctx, "alice")
	k, _ := newBot(ctx, t, srv, owner, "hookedbot")
	hook, err := owner.API.SetWebhook(ctx, k.BotID, rec.url())
	if err != nil {
		t.Fatal(err)
	}
	rec.setSecret(hook.Secret)
	conv, err := alice.API.CreateDirect(ctx, k.UserID)
	if err != nil {
		t.Fatal(err)
	}
	return hookEnv{srv: srv, bot: k, owner: owner, alice: alice, conv: conv.ConversationID}
}

// sendREST sends content from u to conv over REST, its content its key.
func sendREST(ctx context.Context, t *testing.T, u *apptest.User, conv, content string) {
	t.Helper()
	if _, err := u.API.SendREST(ctx, conv, content, text("", conv, content)); err != nil {
		t.Fatal(err)
	}
}

// TestWebhookRetriesInOrder: an event the endpoint refuses (a 500, then
// no answer within --webhook-timeout) holds its conversation back, not
// the others, and is retried after its backoff on the server's clock; the
// conversation then goes on in order. The owner sees what happened.
func TestWebhookRetriesInOrder(t *testing.T) {
	bothEngines(t, func(t *testing.T, cfg config.Config) {
		ctx := testCtx(t)
		clk := clock.NewFake(time.UnixMilli(1_790_000_000_000))
		rec := newHookReceiver(t, clk)
		cfg.Webhook.Sweep = time.Hour // the test's clock moves in seconds: wakes alone
		cfg.Webhook.Timeout = 200 * time.Millisecond
		env := hookSetup(ctx, t, cfg, clk, rec)
		srv, k, alice, a := env.srv, env.bot, env.alice, env.conv
		carol := srv.NewUser(ctx, "carol")
		c, err := carol.API.CreateDirect(ctx, k.UserID)
		if err != nil {
			t.Fatal(err)
		}
		var tries atomic.Int32
		rec.setFail(func(ev wire.WebhookEvent) int {
			if !strings.Contains(string(ev.Data), `"a2"`) {
				return 0
			}
			switch tries.Add(1) {
			case 1:
				return http.StatusInternalServerError
			case 2:
				return hang
			}
			return 0
		})
		send := func(u *apptest.User, conv, content string) { t.Helper(); sendREST(ctx, t, u, conv, content) }
		send(alice, a, "a1")
		if m := rec.nextMessage(ctx); m.Content != "a1" {
			t.Fatalf("first: %+v", m)
		}
		send(alice, a, "a2")
		send(alice, a, "a3")
		send(carol, c.ConversationID, "c1")
		if m := rec.nextMessage(ctx); m.Content != "c1" {
			t.Fatalf("while a2 waits: %+v, want carol's c1", m)
		}
		rec.none(ctx, srv, "before a2's backoff")

		clk.Advance(time.Second) // a2's second try: no answer in time
		settle(ctx, t, srv)
		rec.none(ctx, srv, "after a2 timed out")
		if n := tries.Load(); n != 2 {
			t.Fatalf("a2 tried %d times, want 2", n)
		}
		d, err := env.owner.API.WebhookDeliveries(ctx, k.BotID, "retrying")
		if err != nil || len(d) != 1 || d[0].Attempts != 2 || d[0].LastStatus != 0 || d[0].LastError == "" || d[0].ConversationID != a {
			t.Fatalf("retrying deliveries = %+v %v, want a2's, 2 attempts, the last unanswered", d, err)
		}

		clk.Advance(2 * time.Second)
		for _, want := range []string{"a2", "a3"} {
			if m := rec.nextMessage(ctx); m.Content != want {
				t.Fatalf("after the backoff: %+v, want %s", m, want)
			}
		}
		settle(ctx, t, srv)
		d, err = env.owner.API.WebhookDeliveries(ctx, k.BotID, "")
		if err != nil || len(d) != 1 || d[0].Status != "delivered" || d[0].Attempts != 2 {
			t.Fatalf("deliveries after = %+v %v, want a2's delivered", d, err)
		}
		if _, err := env.owner.API.WebhookDeliveries(ctx, k.BotID, "lost"); apiCode(err) != wire.CodeInvalid {
			t.Fatalf("a bad status filter: %v", err)
		}
	})
}

// TestWebhookCircuitAndParking: an endpoint that keeps failing opens its
// circuit (no request until the probe, whatever is sent meanwhile); an
// event still refused after --webhook-retry-for is parked as failed, shown
// to the owner, and its conversation goes on.
func TestWebhookCircuitAndParking(t *testing.T) {
	ctx := testCtx(t)
	clk := clock.NewFake(time.UnixMilli(1_790_000_000_000))
	rec := newHookReceiver(t, clk)
	cfg := apptest.Config(t)
	cfg.Webhook.Sweep = 24 * time.Hour
	cfg.Webhook.RetryFor = 3 * time.Hour
	env := hookSetup(ctx, t, cfg, clk, rec)
	rec.setFail(func(wire.WebhookEvent) int { return http.StatusServiceUnavailable })
	sendREST(ctx, t, env.alice, env.conv, "m1")
	<-rec.requested
	settle(ctx, t, env.srv)
	// Backoffs of 1, 2, 4 and 8 s: the fifth failure in a row opens the
	// circuit for 30 s.
	for _, d := range []time.Duration{1, 2, 4, 8} {
		clk.Advance(d * time.Second)
		settle(ctx, t, env.srv)
	}
	if n := rec.count(); n != 5 {
		t.Fatalf("%d requests before the circuit opened, want 5", n)
	}
	sendREST(ctx, t, env.alice, env.conv, "m2")
	clk.Advance(29 * time.Second)
	settle(ctx, t, env.srv)
	if n := rec.count(); n != 5 {
		t.Fatalf("%d requests while the circuit is open, want still 5", n)
	}
	clk.Advance(time.Second) // the probe: refused, the circuit opens for 60 s
	settle(ctx, t, env.srv)
	if n := rec.count(); n != 6 {
		t.Fatalf("%d requests after the probe, want 6", n)
	}
	// Past the retry period m1 is parked at its next try and m2 goes; the
	// endpoint is healthy again by then.
	for clk.Now().Sub(time.UnixMilli(1_790_000_000_000)) < 3*time.Hour {
		clk.Advance(time.Hour)
		settle(ctx, t, env.srv)
	}
	rec.setFail(nil)
	clk.Advance(time.Hour)
	if m := rec.nextMessage(ctx); m.Content != "m2" {
		t.Fatalf("after parking m1: %+v, want m2", m)
	}
	settle(ctx, t, env.srv)
	failed, err := env.owner.API.WebhookDeliveries(ctx, env.bot.BotID, "failed")
	if err != nil || len(failed) != 1 || failed[0].LastStatus != http.StatusServiceUnavailable {
		t.Fatalf("failed deliveries = %+v %v, want m1's", failed, err)
	}
	rec.none(ctx, env.srv, "m1 parked")
}

// TestWebhookNoLossAcrossRestart: events an endpoint has not accepted are
// delivered after a restart, each conversation in order, none lost.
func TestWebhookNoLossAcrossRestart(t *testing.T) {
	bothEngines(t, func(t *testing.T, cfg config.Config) {
		ctx := testCtx(t)
		rec := newHookReceiver(t, nil)
		env := hookSetup(ctx, t, cfg, nil, rec)
		rec.setFail(func(wire.WebhookEvent) int { return http.StatusBadGateway })
		sendREST(ctx, t, env.alice, env.conv, "r0")
		<-rec.requested
		for i := 1; i <= 20; i++ {
			sendREST(ctx, t, env.alice, env.conv, fmt.Sprintf("r%d", i))
		}
		env.srv.Restart()
		rec.setFail(nil)
		for i := 0; i <= 20; i++ {
			if m := rec.nextMessage(ctx); m.Content != fmt.Sprintf("r%d", i) {
				t.Fatalf("after the restart: %+v, want r%d", m, i)
			}
		}
	})
}

// BenchmarkWebhookDelivery: events per second one bot's webhook takes: a
// person sends b.N messages to the bot, 256 in flight, and the clock stops when the receiver (verifying each signature)
// has accepted the last. One bot's events go one request at a time, so
// this is the per-bot ceiling: the read, sign, POST, cursor and receipt
// path end to end.
func BenchmarkWebhookDelivery(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rec := newHookReceiver(b, nil)
	rec.quiet = true
	cfg := apptest.Config(b)
	// One connection sends far faster than a person: its frame limit is
	// out of the way (the per-user send rate is already off in tests).
	cfg.RateLimit, cfg.RateBurst = 1e9, 1e6
	env := hookSetup(ctx, b, cfg, nil, rec)
	conn := apptest.Dial(ctx, b, env.alice.API)
	// At most window sends unacknowledged: past --max-pending-sends the
	// server refuses them, and a refused send is not an event.
	const window = 256
	acked := make(chan struct{}, window)
	var refused atomic.Int64
	go func() {
		for f := range conn.Frames() {
			switch f.Type {
			case wire.TypeMessageAck:
				acked <- struct{}{}
			case wire.TypeError:
				refused.Add(1)
				acked <- struct{}{}
			}
		}
	}()
	b.ResetTimer()
	for i := range b.N {
		if i >= window {
			<-acked
		}
		m := wire.NewMessage(fmt.Sprintf("b%d", i), env.conv, "text", "benchmark message", "")
		if err := conn.Send(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
	for rec.n.Load() < int64(b.N) {
		if n := refused.Load(); n > 0 {
			b.Fatalf("%d sends refused", n)
		}
		select {
		case <-rec.requested:
		case <-ctx.Done():
			b.Fatalf("%d of %d events delivered: %v", rec.n.Load(), b.N, ctx.Err())
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// TestWebhookCluster: two nodes, sends on both: one node at a time
// delivers the bot's events (a lease), in order, none lost; when that node
// stops, the other takes over at once.
func TestWebhookCluster(t *testing.T) {
	ctx := testCtx(t)
	rec := newHookReceiver(t, nil)
	na, nb := twoNodesWith(t, func(c *config.Config) {
		c.Webhook.AllowInsecureHosts = []string{rec.host}
		c.Webhook.Sweep = 100 * time.Millisecond // events sent on the node without the lease wait for a sweep
	})
	env := hookedBot(ctx, t, na, rec)
	alice, conv := env.alice, env.conv
	apis := []*client.Client{alice.API, on(nb, alice)}
	send := func(from, to int) {
		for i := from; i < to; i++ {
			c := fmt.Sprintf("n%d", i)
			if _, err := apis[i%2].SendREST(ctx, conv, c, text("", conv, c)); err != nil {
				t.Fatal(err)
			}
		}
		for i := from; i < to; i++ {
			if m := rec.nextMessage(ctx); m.Content != fmt.Sprintf("n%d", i) {
				t.Fatalf("webhook got %q, want n%d", m.Content, i)
			}
		}
	}
	send(0, 20)
	na.Stop()
	apis[0] = apis[1]
	send(20, 30)
}
