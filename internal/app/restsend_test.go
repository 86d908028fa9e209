package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/media/mediatest"
	"github.com/parleychat/parley/wire"
)

// restAnswer is a raw HTTP answer.
type restAnswer struct {
	status int
	header http.Header
	body   []byte
}

// postMessage posts body (encoded unless it is a string, sent as it is)
// to a conversation's messages with key as the Idempotency-Key (none when
// empty). Safe to call from any goroutine.
func postMessage(t *testing.T, ctx context.Context, api *client.Client, convID, key string, body any) restAnswer {
	t.Helper()
	raw, ok := body.(string)
	if !ok {
		raw = string(wire.Encode(body))
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, api.BaseURL+"/api/v1/conversations/"+convID+"/messages", strings.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+api.Token)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set(wire.IdempotencyKeyHeader, key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		// Errorf, not Fatal: it may run on a goroutine of its own. The
		// zero answer fails the caller's status check.
		t.Errorf("post: %v", err)
		return restAnswer{}
	}
	defer res.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(res.Body)
	return restAnswer{status: res.StatusCode, header: res.Header, body: b.Bytes()}
}

func (a restAnswer) sent(t *testing.T) wire.SentMessage {
	t.Helper()
	var s wire.SentMessage
	if err := wire.RoundTrip(a.body, &s); err != nil {
		t.Fatalf("answer %s: %v", a.body, err)
	}
	return s
}

func (a restAnswer) code(t *testing.T) string {
	t.Helper()
	var eb wire.ErrorBody
	if err := json.Unmarshal(a.body, &eb); err != nil {
		t.Fatalf("error answer %d %s: %v", a.status, a.body, err)
	}
	return string(eb.Error.Code)
}

func sendBody(content string) wire.SendRequest {
	return wire.SendRequest{MessageType: "text", Content: &content}
}

// TestRESTSend: a message posted over REST is answered 201 after its
// commit and reaches the recipient's WebSocket live; the same key again is
// the same answer with 200, whatever the body, and nothing is stored
// twice; bad keys and bodies, non-members and unknown conversations are
// refused with the frame's codes and store nothing.
func TestRESTSend(t *testing.T) {
	bothEngines(t, func(t *testing.T, cfg config.Config) {
		ctx := testCtx(t)
		srv := apptest.Start(t, cfg, nil)
		alice, bob, carol := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "carol")
		conv, err := alice.API.CreateDirect(ctx, bob.UserID)
		if err != nil {
			t.Fatal(err)
		}
		bc := served(t, bob.Dial(ctx))

		first := postMessage(t, ctx, alice.API, conv.ConversationID, "k-1", sendBody("aGVsbG8="))
		if first.status != http.StatusCreated {
			t.Fatalf("post: %d %s, want 201", first.status, first.body)
		}
		sent := first.sent(t)
		if sent.ClientMessageID != "k-1" || sent.ConversationID != conv.ConversationID || sent.SequenceNumber != 1 ||
			sent.Status != wire.StatusSent || sent.MessageID == "" || sent.Timestamp == 0 {
			t.Fatalf("answer %+v", sent)
		}
		f, err := bc.Next(ctx, wire.TypeMessage)
		if err != nil || f.MessageID != sent.MessageID || f.Content != "aGVsbG8=" || f.SenderID != alice.UserID || f.SequenceNumber != 1 {
			t.Fatalf("bob got %+v, %v; want the posted message live", f, err)
		}

		// The same key: the same answer, 200, also for another body.
		for _, body := range []wire.SendRequest{sendBody("aGVsbG8="), sendBody("c29tZXRoaW5nIGVsc2U=")} {
			again := postMessage(t, ctx, alice.API, conv.ConversationID, "k-1", body)
			if again.status != http.StatusOK || again.sent(t) != sent {
				t.Fatalf("replay: %d %s, want 200 with %+v", again.status, again.body, sent)
			}
		}
		// The Go client says so.
		replay, err := alice.API.PostMessage(ctx, conv.ConversationID, "k-1", text("", "", "aGk="))
		if err != nil || !replay.Replayed || replay.SentMessage != sent {
			t.Fatalf("PostMessage replay: %+v, %v", replay, err)
		}

		// Media another user uploaded and the sender cannot see.
		png := mediatest.PNG(t, 8, 8)
		up, err := carol.API.CreateMedia(ctx, "image/png", int64(len(png)))
		if err != nil {
			t.Fatal(err)
		}
		if err := carol.API.Upload(ctx, up, bytes.NewReader(png), int64(len(png))); err != nil {
			t.Fatal(err)
		}
		if _, err := carol.API.CompleteMedia(ctx, up.MediaID); err != nil {
			t.Fatal(err)
		}
		theirs := wire.SendRequest{MessageType: "image", Content: ptr(""), MediaID: up.MediaID}

		long := strings.Repeat("k", wire.MaxIDLength+1)
		big := strings.Repeat("x", wire.DefaultMaxContentBytes+1)
		for _, c := range []struct {
			name    string
			api     *client.Client
			conv    string
			key     string
			body    any
			status  int
			code    string
			message string
		}{
			{"no key", alice.API, conv.ConversationID, "", sendBody("x"), 400, "invalid", "Idempotency-Key"},
			{"long key", alice.API, conv.ConversationID, long, sendBody("x"), 400, "invalid", "Idempotency-Key"},
			{"key not UTF-8", alice.API, conv.ConversationID, "k-\xff", sendBody("x"), 400, "invalid", "Idempotency-Key"},
			{"malformed JSON", alice.API, conv.ConversationID, "k-2", `{"message_type":`, 400, "invalid", ""},
			{"no content", alice.API, conv.ConversationID, "k-2", `{"message_type":"text"}`, 400, "invalid", "content"},
			{"bad message type", alice.API, conv.ConversationID, "k-2", wire.SendRequest{MessageType: "poem", Content: ptr("x")}, 400, "invalid", "message_type"},
			{"content too large", alice.API, conv.ConversationID, "k-2", sendBody(big), 413, "too_large", ""},
			{"someone else's media", alice.API, conv.ConversationID, "k-2", theirs, 404, "not_found", ""},
			{"not a member", carol.API, conv.ConversationID, "k-2", sendBody("x"), 403, "forbidden", ""},
			{"unknown conversation", alice.API, "nowhere", "k-2", sendBody("x"), 404, "not_found", ""},
		} {
			a := postMessage(t, ctx, c.api, c.conv, c.key, c.body)
			if a.status != c.status || a.code(t) != c.code || !strings.Contains(string(a.body), c.message) {
				t.Errorf("%s: %d %s, want %d %s naming %q", c.name, a.status, a.body, c.status, c.code, c.message)
			}
		}
		hist, err := bob.API.Messages(ctx, conv.ConversationID, client.HistoryOptions{})
		if err != nil || len(hist) != 1 || hist[0].MessageID != sent.MessageID {
			t.Fatalf("history: %d messages, %v; want the one posted", len(hist), err)
		}
		// The refused key k-2 was not used up.
		next, err := alice.API.PostMessage(ctx, conv.ConversationID, "k-2", text("", "", "aGk="))
		if err != nil || next.Replayed || next.SequenceNumber != 2 {
			t.Fatalf("k-2 after its refusals: %+v, %v; want sequence 2, stored now", next, err)
		}
	})
}

// TestRESTSendSharesUserRate: the REST and WebSocket send paths take from
// one per-user bucket: exhausted over one, the other refuses too (429 with
// Retry-After over HTTP), and a second later both accept again.
func TestRESTSendSharesUserRate(t *testing.T) {
	ctx := testCtx(t)
	clk := clock.NewFake(time.Now())
	cfg := apptest.Config(t)
	cfg.Abuse.UserSendRate, cfg.Abuse.UserSendBurst = 1, 2
	srv := apptest.Start(t, cfg, clk)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
	conv, err := alice.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	ac, err := alice.API.Dial(ctx, client.DialOptions{SendRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ac.Abort)

	// The burst over REST; the WebSocket is refused.
	for _, key := range []string{"r-1", "r-2"} {
		if a := postMessage(t, ctx, alice.API, conv.ConversationID, key, sendBody("x")); a.status != http.StatusCreated {
			t.Fatalf("post %s: %d %s", key, a.status, a.body)
		}
	}
	_, err = ac.SendMessage(ctx, text("w-1", conv.ConversationID, "x"))
	var e *client.Error
	if !errors.As(err, &e) || e.Code != "rate_limited" {
		t.Fatalf("WebSocket send past the REST burst: %v, want rate_limited", err)
	}
	a := postMessage(t, ctx, alice.API, conv.ConversationID, "r-3", sendBody("x"))
	if a.status != http.StatusTooManyRequests || a.code(t) != "rate_limited" || a.header.Get("Retry-After") != "1" {
		t.Fatalf("post past the burst: %d %s Retry-After %q, want 429 rate_limited, 1", a.status, a.body, a.header.Get("Retry-After"))
	}

	// A second later one message is there: the WebSocket takes it, and
	// REST is refused again.
	clk.Advance(time.Second)
	if ack, err := ac.SendMessage(ctx, text("w-1", conv.ConversationID, "x")); err != nil || ack.SequenceNumber != 3 {
		t.Fatalf("WebSocket send a second later: %+v, %v; want sequence 3", ack, err)
	}
	if a := postMessage(t, ctx, alice.API, conv.ConversationID, "r-3", sendBody("x")); a.status != http.StatusTooManyRequests {
		t.Fatalf("post past the WebSocket's message: %d %s, want 429", a.status, a.body)
	}
	clk.Advance(time.Second)
	if a := postMessage(t, ctx, alice.API, conv.ConversationID, "r-3", sendBody("x")); a.status != http.StatusCreated || a.sent(t).SequenceNumber != 4 {
		t.Fatalf("post another second later: %d %s, want 201 sequence 4", a.status, a.body)
	}
}

// TestRESTReceipts: delivered and read marked over REST are committed
// before the 204 and reach the sender's WebSocket as status frames; the
// frames' rules hold (1–1000 ids, a message the caller cannot see).
func TestRESTReceipts(t *testing.T) {
	bothEngines(t, func(t *testing.T, cfg config.Config) {
		ctx := testCtx(t)
		srv := apptest.Start(t, cfg, nil)
		alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
		conv, err := alice.API.CreateDirect(ctx, bob.UserID)
		if err != nil {
			t.Fatal(err)
		}
		ac := served(t, alice.Dial(ctx))
		ack, err := ac.SendMessage(ctx, text("c-1", conv.ConversationID, "aGk="))
		if err != nil {
			t.Fatal(err)
		}
		if err := bob.API.MarkDelivered(ctx, ack.MessageID); err != nil {
			t.Fatalf("delivered: %v", err)
		}
		f, err := ac.Next(ctx, wire.TypeStatus)
		if err != nil || f.MessageID != ack.MessageID || f.Status != wire.StatusDelivered || f.UserID != bob.UserID {
			t.Fatalf("alice got %+v, %v; want delivered", f, err)
		}
		if err := bob.API.MarkRead(ctx, conv.ConversationID, ack.MessageID); err != nil {
			t.Fatalf("read: %v", err)
		}
		f, err = ac.Next(ctx, wire.TypeStatus)
		if err != nil || f.MessageID != ack.MessageID || f.Status != wire.StatusRead {
			t.Fatalf("alice got %+v, %v; want read", f, err)
		}
		st, err := alice.API.MessageStatus(ctx, ack.MessageID)
		if err != nil || st.Status != wire.StatusRead {
			t.Fatalf("status %+v, %v; want read", st, err)
		}

		many := make([]string, wire.DefaultMaxIDsPerFrame+1)
		for i := range many {
			many[i] = ack.MessageID
		}
		wantStatus(t, bob.API.MarkDelivered(ctx), 400, "invalid", "no ids")
		wantStatus(t, bob.API.MarkDelivered(ctx, many...), 400, "invalid", "1001 ids")
		wantStatus(t, bob.API.MarkDelivered(ctx, "nope"), 404, "not_found", "unknown id")
		wantStatus(t, bob.API.MarkRead(ctx, "elsewhere", ack.MessageID), 422, "invalid", "read outside the conversation")
	})
}

// TestRESTSendReplayAfterRestart: the key is stored with the message, so
// a client that lost the answer to a crash or restart gets the original
// back from the next process.
func TestRESTSendReplayAfterRestart(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
	conv, err := alice.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	first, err := alice.API.PostMessage(ctx, conv.ConversationID, "k-1", text("", "", "aGk="))
	if err != nil || first.Replayed {
		t.Fatalf("post: %+v, %v", first, err)
	}
	srv.Restart()
	again, err := alice.API.PostMessage(ctx, conv.ConversationID, "k-1", text("", "", "aGk="))
	if err != nil || !again.Replayed || again.SentMessage != first.SentMessage {
		t.Fatalf("after a restart: %+v, %v; want the original %+v", again, err, first.SentMessage)
	}
}

// TestRESTSendNodeBound: REST sends count under the node's bound on sends
// awaiting their commit, with the WebSocket's: with the committer stalled
// and the bound taken by WebSocket sends, a post is refused at once (429,
// Retry-After, nothing stored), and a post waiting for its commit holds a
// place that refuses a WebSocket send.
func TestRESTSendNodeBound(t *testing.T) {
	ctx := testCtx(t)
	cfg := apptest.Config(t)
	cfg.Abuse.MaxPendingSends = 1
	srv := apptest.Start(t, cfg, nil)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
	conv, err := alice.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	ac := alice.Dial(ctx)

	lock := lockStore(ctx, t, srv)
	if err := ac.Send(ctx, messageFrame("w-1", conv.ConversationID)); err != nil {
		t.Fatal(err)
	}
	if !waitMetric(ctx, t, srv, "parley_sends_pending", 1) {
		t.Fatal("the WebSocket send never became pending")
	}
	a := postMessage(t, ctx, alice.API, conv.ConversationID, "r-1", sendBody("x"))
	if a.status != http.StatusTooManyRequests || a.code(t) != "rate_limited" || a.header.Get("Retry-After") == "" {
		t.Fatalf("post with the bound taken: %d %s, want 429 rate_limited with Retry-After", a.status, a.body)
	}
	lock.release()
	if f, err := ac.Next(ctx, "message_ack", "error"); err != nil || f.Type != "message_ack" {
		t.Fatalf("WebSocket send after the stall: %+v, %v", f, err)
	}
	if !waitMetric(ctx, t, srv, "parley_sends_pending", 0) {
		t.Fatal("the WebSocket send never left the bound")
	}

	// Now the post waits for its commit, and holds the place.
	lock = lockStore(ctx, t, srv)
	posted := make(chan restAnswer, 1)
	go func() { posted <- postMessage(t, ctx, alice.API, conv.ConversationID, "r-1", sendBody("x")) }()
	if !waitMetric(ctx, t, srv, "parley_sends_pending", 1) {
		t.Fatal("the post never became pending")
	}
	if err := ac.Send(ctx, messageFrame("w-2", conv.ConversationID)); err != nil {
		t.Fatal(err)
	}
	if f, err := ac.Next(ctx, "message_ack", "error"); err != nil || f.Code != "rate_limited" || f.ClientMessageID != "w-2" {
		t.Fatalf("WebSocket send while the post waits: %+v, %v; want rate_limited", f, err)
	}
	lock.release()
	if a := <-posted; a.status != http.StatusCreated || a.sent(t).SequenceNumber != 2 {
		t.Fatalf("the waiting post: %d %s, want 201 sequence 2", a.status, a.body)
	}
	if !waitMetric(ctx, t, srv, "parley_sends_pending", 0) {
		t.Fatal("the post never left the bound")
	}
}

// TestRESTReceiptRate: receipts over REST have their own per-user limit
// (--user-receipt-rate), answered 429 with Retry-After past it; 0 turns it
// off.
func TestRESTReceiptRate(t *testing.T) {
	ctx := testCtx(t)
	clk := clock.NewFake(time.Now())
	cfg := apptest.Config(t)
	cfg.Abuse.UserReceiptRate, cfg.Abuse.UserReceiptBurst = 1, 2
	srv := apptest.Start(t, cfg, clk)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
	conv, err := alice.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	a := postMessage(t, ctx, alice.API, conv.ConversationID, "k-1", sendBody("x"))
	id := a.sent(t).MessageID
	for range 2 {
		if err := bob.API.MarkRead(ctx, conv.ConversationID, id); err != nil {
			t.Fatal(err)
		}
	}
	err = bob.API.MarkDelivered(ctx, id)
	var e *client.Error
	if !errors.As(err, &e) || e.Status != http.StatusTooManyRequests || e.Code != "rate_limited" || e.RetryAfter != time.Second {
		t.Fatalf("a receipt past the burst: %v, want 429 rate_limited after 1s", err)
	}
	clk.Advance(time.Second)
	if err := bob.API.MarkDelivered(ctx, id); err != nil {
		t.Fatalf("a second later: %v", err)
	}
}
