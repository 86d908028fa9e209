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
	t    *testing.T
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
}

const hang = -1

func newHookReceiver(t *testing.T, clk clock.Clock) *hookReceiver {
	if clk == nil {
		clk = clock.Real{}
	}
	r := &hookReceiver{t: t, clk: clk, accepted: map[string]bool{}, lastSeq: map[string]int64{}, got: make(chan wire.WebhookEvent, 1000)}
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
	r.got <- ev
}

// next returns the next event accepted for the first time.
func (r *hookReceiver) next(ctx context.Context) wire.WebhookEvent {
	r.t.Helper()
	select {
	case ev := <-r.got:
		return ev
	case <-ctx.Done():
		r.t.Fatalf("no webhook event: %v", ctx.Err())
	}
	return wire.WebhookEvent{}
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
	if err := srv.App.WebhooksSettled(ctx); err != nil {
		r.t.Fatal(err)
	}
	select {
	case ev := <-r.got:
		r.t.Fatalf("%s: webhook got %s %s", why, ev.Type, ev.Data)
	default:
	}
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
