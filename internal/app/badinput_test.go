package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/clock"
)

// expectError reads frames until an error frame and checks its code, then
// proves the connection is still open with a heartbeat round trip.
func expectError(t *testing.T, ctx context.Context, c *client.Conn, code, cmid string) {
	t.Helper()
	f, err := c.Next(ctx, "error")
	if err != nil {
		t.Fatalf("want error %s: %v", code, err)
	}
	if string(f.Code) != code || f.Message == "" || f.ClientMessageID != cmid {
		t.Fatalf("error frame = code %q message %q cmid %q; want code %q cmid %q", f.Code, f.Message, f.ClientMessageID, code, cmid)
	}
	if err := c.Heartbeat(ctx); err != nil {
		t.Fatalf("connection closed after a bad frame: %v", err)
	}
	if _, err := c.Next(ctx, "heartbeat_ack"); err != nil {
		t.Fatalf("connection closed after a bad frame: %v", err)
	}
}

func TestBadFrames(t *testing.T) {
	ctx := testCtx(t)
	srv, alice, bob, conv := pair(t)
	ac := alice.Dial(ctx)
	bc := bob.Dial(ctx)
	carol := srv.NewUser(ctx, "carol")
	other, err := bob.API.CreateDirect(ctx, carol.UserID)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := ac.SendMessage(ctx, text("ok", conv.ConversationID, "fine"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bc.Next(ctx, "message"); err != nil {
		t.Fatal(err)
	}
	carolAck, err := apptest.Dial(ctx, t, carol.API).SendMessage(ctx, text("c", other.ConversationID, "to bob"))
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 64<<10+1)

	cases := []struct {
		name string
		raw  string
		code string
		cmid string
	}{
		{"malformed JSON", `{"type":"message",`, "invalid", ""},
		{"not an object", `[1,2,3]`, "invalid", ""},
		{"trailing garbage", `{"type":"heartbeat"} {}`, "invalid", ""},
		{"unknown type", `{"type":"launch_missiles"}`, "invalid", ""},
		{"no type", `{"conversation_id":"x"}`, "invalid", ""},
		{"wrong field type", `{"type":"message","client_message_id":7}`, "invalid", ""},
		{"missing client_message_id", `{"type":"message","conversation_id":"` + conv.ConversationID + `","message_type":"text","content":"x"}`, "invalid", ""},
		{"missing conversation", `{"type":"message","client_message_id":"m1","message_type":"text","content":"x"}`, "invalid", "m1"},
		{"missing content", `{"type":"message","client_message_id":"m2","conversation_id":"` + conv.ConversationID + `","message_type":"text"}`, "invalid", "m2"},
		{"bad message_type", `{"type":"message","client_message_id":"m3","conversation_id":"` + conv.ConversationID + `","message_type":"system","content":"x"}`, "invalid", "m3"},
		{"overlong client_message_id", `{"type":"message","client_message_id":"` + strings.Repeat("k", 200) + `","conversation_id":"c","message_type":"text","content":"x"}`, "invalid", strings.Repeat("k", 200)},
		{"content over 64 KiB", `{"type":"message","client_message_id":"m4","conversation_id":"` + conv.ConversationID + `","message_type":"text","content":"` + big + `"}`, "too_large", "m4"},
		{"frame over the frame limit", `{"type":"heartbeat","pad":"` + strings.Repeat("p", 300<<10) + `"}`, "too_large", ""},
		{"not a member", `{"type":"message","client_message_id":"m5","conversation_id":"` + other.ConversationID + `","message_type":"text","content":"x"}`, "forbidden", "m5"},
		{"no such conversation", `{"type":"message","client_message_id":"m6","conversation_id":"nope","message_type":"text","content":"x"}`, "not_found", "m6"},
		{"ack with no ids", `{"type":"delivery_ack","message_ids":[]}`, "invalid", ""},
		{"ack of unknown id", `{"type":"delivery_ack","message_ids":["nope"]}`, "not_found", ""},
		{"ack of someone else's message", `{"type":"delivery_ack","message_ids":["` + carolAck.MessageID + `"]}`, "not_found", ""},
		{"read of someone else's message", `{"type":"read_receipt","conversation_id":"` + other.ConversationID + `","message_ids":["` + carolAck.MessageID + `"]}`, "not_found", ""},
		{"read without conversation", `{"type":"read_receipt","message_ids":["` + ack.MessageID + `"]}`, "invalid", ""},
		{"typing bad state", `{"type":"typing","conversation_id":"` + conv.ConversationID + `","state":"dancing"}`, "invalid", ""},
		{"typing not a member", `{"type":"typing","conversation_id":"` + other.ConversationID + `","state":"composing"}`, "forbidden", ""},
		{"subscribe without ids", `{"type":"presence_subscribe"}`, "invalid", ""},
		{"subscribe unknown user", `{"type":"presence_subscribe","user_ids":["nobody"]}`, "not_found", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := ac.SendRaw(ctx, []byte(tc.raw)); err != nil {
				t.Fatal(err)
			}
			expectError(t, ctx, ac, tc.code, tc.cmid)
		})
	}

	// Nothing changed: no message was stored, no receipt recorded.
	hist, err := alice.API.Messages(ctx, conv.ConversationID, client.HistoryOptions{})
	if err != nil || len(hist) != 1 {
		t.Fatalf("history after bad frames = %d messages, %v; want 1", len(hist), err)
	}
	st, err := carol.API.MessageStatus(ctx, carolAck.MessageID)
	if err != nil || st.Recipients[0].Status != "sent" {
		t.Fatalf("carol's message status after alice's bogus ack = %+v, %v", st, err)
	}
	// Binary frames are refused too.
	if err := ac.SendRaw(ctx, []byte(`{"type":"heartbeat"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.Next(ctx, "heartbeat_ack"); err != nil {
		t.Fatal(err)
	}
}

func TestFrameRateLimit(t *testing.T) {
	ctx := testCtx(t)
	cfg := apptest.Config(t)
	cfg.RateLimit, cfg.RateBurst = 1, 5
	srv := apptest.Start(t, cfg, nil)
	u := srv.NewUser(ctx, "spammer")
	c := u.Dial(ctx)
	for range 10 {
		if err := c.Heartbeat(ctx); err != nil {
			t.Fatal(err)
		}
	}
	acks, limited := 0, 0
	for acks+limited < 10 {
		f, err := c.Next(ctx, "heartbeat_ack", "error")
		if err != nil {
			t.Fatal(err)
		}
		if f.Type == "heartbeat_ack" {
			acks++
		} else if f.Code == "rate_limited" {
			limited++
		} else {
			t.Fatalf("unexpected error %+v", f)
		}
	}
	if acks != 5 || limited != 5 {
		t.Fatalf("burst of 5: %d answered, %d rate limited; want 5 and 5", acks, limited)
	}
}

func TestBadHTTPInput(t *testing.T) {
	ctx := testCtx(t)
	srv, alice, bob, conv := pair(t)
	carol := srv.NewUser(ctx, "carol")
	anon := srv.Client()

	raw := func(method, path, token, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, srv.URL+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var eb struct {
			Error struct{ Code string } `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&eb)
		return resp.StatusCode, eb.Error.Code
	}
	cases := []struct {
		name, method, path, token, body string
		status                          int
		code                            string
	}{
		{"malformed JSON", "POST", "/api/v1/users", "", `{"username":`, 400, "invalid"},
		{"wrong type", "POST", "/api/v1/users", "", `{"username":5}`, 400, "invalid"},
		{"empty username", "POST", "/api/v1/users", "", `{"username":"","password":"long enough"}`, 400, "invalid"},
		{"short username", "POST", "/api/v1/users", "", `{"username":"ab","password":"long enough"}`, 400, "invalid"},
		{"overlong username", "POST", "/api/v1/users", "", `{"username":"` + strings.Repeat("a", 33) + `","password":"long enough"}`, 400, "invalid"},
		{"bad username chars", "POST", "/api/v1/users", "", `{"username":"a b/c","password":"long enough"}`, 400, "invalid"},
		{"empty password", "POST", "/api/v1/users", "", `{"username":"dave","password":""}`, 400, "invalid"},
		{"short password", "POST", "/api/v1/users", "", `{"username":"dave","password":"short"}`, 400, "invalid"},
		{"overlong password", "POST", "/api/v1/users", "", `{"username":"dave","password":"` + strings.Repeat("p", 257) + `"}`, 400, "invalid"},
		{"duplicate username", "POST", "/api/v1/users", "", `{"username":"` + alice.Username + `","password":"long enough"}`, 409, "conflict"},
		{"duplicate username, other case", "POST", "/api/v1/users", "", `{"username":"` + strings.ToUpper(alice.Username) + `","password":"long enough"}`, 409, "conflict"},
		{"wrong password", "POST", "/api/v1/sessions", "", `{"username":"` + alice.Username + `","password":"wrong password"}`, 401, "unauthorized"},
		{"unknown user login", "POST", "/api/v1/sessions", "", `{"username":"nobody","password":"whatever1"}`, 401, "unauthorized"},
		{"no token", "GET", "/api/v1/conversations", "", ``, 401, "unauthorized"},
		{"bad token", "GET", "/api/v1/conversations", "garbage", ``, 401, "unauthorized"},
		{"unknown user", "GET", "/api/v1/users/nope", alice.Session.Token, ``, 404, "not_found"},
		{"1:1 with self", "POST", "/api/v1/conversations", alice.Session.Token, `{"type":"1:1","participants":["` + alice.UserID + `"]}`, 422, "invalid"},
		{"1:1 with unknown user", "POST", "/api/v1/conversations", alice.Session.Token, `{"type":"1:1","participants":["nope"]}`, 422, "invalid"},
		{"1:1 with two users", "POST", "/api/v1/conversations", alice.Session.Token, `{"type":"1:1","participants":["` + bob.UserID + `","` + carol.UserID + `"]}`, 422, "invalid"},
		{"unknown conversation type", "POST", "/api/v1/conversations", alice.Session.Token, `{"type":"channel","participants":[]}`, 400, "invalid"},
		{"non-member reads conversation", "GET", "/api/v1/conversations/" + conv.ConversationID, carol.Session.Token, ``, 403, "forbidden"},
		{"non-member reads history", "GET", "/api/v1/conversations/" + conv.ConversationID + "/messages", carol.Session.Token, ``, 403, "forbidden"},
		{"unknown conversation", "GET", "/api/v1/conversations/nope", alice.Session.Token, ``, 404, "not_found"},
		{"bad after_seq", "GET", "/api/v1/conversations/" + conv.ConversationID + "/messages?after_seq=x", alice.Session.Token, ``, 400, "invalid"},
		{"negative before_seq", "GET", "/api/v1/conversations/" + conv.ConversationID + "/messages?before_seq=-1", alice.Session.Token, ``, 400, "invalid"},
		{"both cursors", "GET", "/api/v1/conversations/" + conv.ConversationID + "/messages?after_seq=1&before_seq=5", alice.Session.Token, ``, 400, "invalid"},
		{"bad limit", "GET", "/api/v1/conversations/" + conv.ConversationID + "/messages?limit=0", alice.Session.Token, ``, 400, "invalid"},
		{"unknown message status", "GET", "/api/v1/messages/nope/status", alice.Session.Token, ``, 404, "not_found"},
		{"unknown endpoint", "GET", "/api/v1/nothing", alice.Session.Token, ``, 404, "not_found"},
		{"group name with NUL", "POST", "/api/v1/conversations", alice.Session.Token, `{"type":"group","name":"a\u0000b","participants":[]}`, 400, "invalid"},
		{"group name with RTL override", "POST", "/api/v1/conversations", alice.Session.Token, `{"type":"group","name":"evil\u202etxt.exe","participants":[]}`, 400, "invalid"},
		{"group name with zero-width space", "POST", "/api/v1/conversations", alice.Session.Token, `{"type":"group","name":"ad\u200bmins","participants":[]}`, 400, "invalid"},
		{"display name with RTL override", "POST", "/api/v1/users", "", `{"username":"dave","password":"long enough","display_name":"\u202eevad"}`, 400, "invalid"},
		{"sign out without a token", "DELETE", "/api/v1/sessions/current", "", ``, 401, "unauthorized"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, code := raw(tc.method, tc.path, tc.token, tc.body)
			if status != tc.status || code != tc.code {
				t.Fatalf("got %d %q, want %d %q", status, code, tc.status, tc.code)
			}
		})
	}
	// Nothing was created by the refused calls.
	if _, err := anon.Login(ctx, "dave", "long enough"); client.ErrorCode(err) != "unauthorized" {
		t.Fatalf("a refused registration left an account behind: %v", err)
	}
	list, err := alice.API.Conversations(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("alice has %d conversations, %v; want 1", len(list), err)
	}
}

func TestWebSocketRefusesBadTokens(t *testing.T) {
	ctx := testCtx(t)
	clk := clock.NewFake(time.Now())
	cfg := apptest.Config(t)
	cfg.SessionTTL = time.Hour
	srv := apptest.Start(t, cfg, clk)
	u := srv.NewUser(ctx, "erin")

	for name, token := range map[string]string{"missing": "", "unknown": "not-a-token"} {
		if _, err := srv.Client().WithToken(token).Dial(ctx, client.DialOptions{}); client.ErrorCode(err) != "unauthorized" {
			t.Fatalf("%s token: %v, want unauthorized", name, err)
		}
	}
	c := u.Dial(ctx)
	c.Close()
	clk.Advance(time.Hour + time.Second)
	if _, err := u.API.Dial(ctx, client.DialOptions{}); client.ErrorCode(err) != "unauthorized" {
		t.Fatalf("expired token: %v, want unauthorized", err)
	}
	if _, err := u.API.Conversations(ctx); client.ErrorCode(err) != "unauthorized" {
		t.Fatalf("expired token over HTTP: %v, want unauthorized", err)
	}
}

func TestSixthDeviceSignsOutTheOldest(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	u := srv.NewUser(ctx, "frank") // device 1
	first := u.Dial(ctx)
	var devices []*client.Client
	for range 4 {
		devices = append(devices, u.NewDevice(ctx)) // devices 2..5
	}
	if _, err := u.API.Conversations(ctx); err != nil {
		t.Fatalf("five devices are allowed: %v", err)
	}
	sixth := u.NewDevice(ctx)
	select {
	case <-first.Done():
		if first.CloseStatus() != 4001 {
			t.Fatalf("oldest device closed with %d, want 4001", first.CloseStatus())
		}
	case <-ctx.Done():
		t.Fatal("the oldest device's connection stayed open")
	}
	if _, err := u.API.Conversations(ctx); client.ErrorCode(err) != "unauthorized" {
		t.Fatalf("oldest token after the sixth login: %v, want unauthorized", err)
	}
	for i, d := range append(devices, sixth) {
		if _, err := d.Conversations(ctx); err != nil {
			t.Fatalf("device %d: %v", i+2, err)
		}
	}
}
