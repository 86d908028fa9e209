package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/wire"
)

// postClock POSTs body to base/debug/clock and returns the status and the
// body read.
func postClock(ctx context.Context, t *testing.T, base, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/debug/clock", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// advanceClock moves srv's clock d forward through POST /debug/clock at
// base and returns the new offset.
func advanceClock(ctx context.Context, t *testing.T, base string, d time.Duration) time.Duration {
	t.Helper()
	code, body := postClock(ctx, t, base, `{"advance_ms":`+jsonInt(d.Milliseconds())+`}`)
	if code != http.StatusOK {
		t.Fatalf("advance %s: %d %s", d, code, body)
	}
	var got struct {
		OffsetMS *int64 `json:"offset_ms"`
		NowMS    *int64 `json:"now_ms"`
	}
	if err := json.Unmarshal(body, &got); err != nil || got.OffsetMS == nil || got.NowMS == nil {
		t.Fatalf("advance %s: body %s, %v", d, body, err)
	}
	off := time.Duration(*got.OffsetMS) * time.Millisecond
	// The server's now is the wall clock plus the offset (ms rounding
	// and the request's own time aside).
	if now := time.UnixMilli(*got.NowMS); now.Before(time.Now().Add(off - time.Second)) {
		t.Fatalf("now_ms %s is not %s ahead of %s", now, off, time.Now())
	}
	return off
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestDebugClockAdvance(t *testing.T) {
	ctx := testCtx(t)
	cfg := apptest.Config(t)
	cfg.DebugClock = true
	srv := apptest.Start(t, cfg, nil)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
	conv, err := alice.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if off := advanceClock(ctx, t, srv.URL, 2*time.Hour); off != 2*time.Hour {
		t.Fatalf("offset = %s, want 2h", off)
	}
	// A message sent after the step is stamped by the moved clock.
	ac, bc := alice.Dial(ctx), served(t, bob.Dial(ctx))
	wall := time.Now()
	ack, err := ac.SendMessage(ctx, text("c1", conv.ConversationID, "from the future"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := bc.Next(ctx, "message")
	if err != nil || f.MessageID != ack.MessageID {
		t.Fatalf("message = %+v, %v", f, err)
	}
	if min := wall.Add(2 * time.Hour).UnixMilli(); f.CreatedAt < min {
		t.Fatalf("created_at = %d, want at least %d (2h past the wall clock)", f.CreatedAt, min)
	}

	// Bad bodies: 400 invalid, the clock unmoved.
	for _, body := range []string{`{}`, `{"advance_ms":0}`, `{"advance_ms":-5}`, `not json`, `{"advance_ms":"1"}`, `{"advance_ms":1,"extra":2}`} {
		code, b := postClock(ctx, t, srv.URL, body)
		var eb wire.ErrorBody
		if code != http.StatusBadRequest || json.Unmarshal(b, &eb) != nil || eb.Error.Code != "invalid" {
			t.Errorf("%s: %d %s, want 400 invalid", body, code, b)
		}
	}
	if off := advanceClock(ctx, t, srv.URL, time.Millisecond); off != 2*time.Hour+time.Millisecond {
		t.Fatalf("after the refused bodies: offset = %s, want 2h1ms", off)
	}
}

// TestDebugClockStartOffset: --debug-clock-offset starts the clock ahead.
func TestDebugClockStartOffset(t *testing.T) {
	ctx := testCtx(t)
	cfg := apptest.Config(t)
	cfg.DebugClock, cfg.DebugClockOffset = true, time.Hour
	srv := apptest.Start(t, cfg, nil)
	if off := advanceClock(ctx, t, srv.URL, time.Second); off != time.Hour+time.Second {
		t.Fatalf("offset = %s, want 1h1s", off)
	}
}

// TestDebugClockRoute: without --debug-clock the route does not exist;
// with --admin-addr it is on the admin listener only, like /readyz.
func TestDebugClockRoute(t *testing.T) {
	ctx := testCtx(t)
	off := apptest.Start(t, apptest.Config(t), nil)
	if code, body := postClock(ctx, t, off.URL, `{"advance_ms":1000}`); code != http.StatusNotFound {
		t.Fatalf("without --debug-clock: %d %s, want 404", code, body)
	}
	cfg := apptest.Config(t)
	cfg.DebugClock, cfg.AdminAddr = true, "127.0.0.1:0"
	admin := apptest.Start(t, cfg, nil)
	if code, body := postClock(ctx, t, admin.URL, `{"advance_ms":1000}`); code != http.StatusNotFound {
		t.Fatalf("on the public port with --admin-addr: %d %s, want 404", code, body)
	}
	if got := advanceClock(ctx, t, admin.AdminURL, time.Second); got != time.Second {
		t.Fatalf("on the admin listener: offset = %s, want 1s", got)
	}
}

// TestDebugClockExpiresMessages: a step past the retention makes the
// running cleanup job expire an undelivered message, as the chaos tester
// relies on: its recipient never gets it, its sender hears it expired.
func TestDebugClockExpiresMessages(t *testing.T) {
	ctx := testCtx(t)
	cfg := apptest.Config(t)
	cfg.DebugClock = true
	cfg.Retention = time.Hour
	cfg.CleanupInterval = 100 * time.Millisecond
	srv := apptest.Start(t, cfg, nil)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
	conv, err := alice.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	ac := alice.Dial(ctx)
	ack, err := ac.SendMessage(ctx, text("lost", conv.ConversationID, "bob is offline"))
	if err != nil {
		t.Fatal(err)
	}
	advanceClock(ctx, t, srv.URL, 61*time.Minute)
	// The cleanup runs every 100 ms of wall time: the expired status
	// arrives within the test's deadline, no sleep needed.
	for {
		f, err := ac.Next(ctx, "status")
		if err != nil {
			t.Fatalf("waiting for the expired status: %v", err)
		}
		if f.Status == "expired" {
			if f.MessageID != ack.MessageID || f.UserID != bob.UserID {
				t.Fatalf("expired status = %+v", f)
			}
			break
		}
	}
	bc := bob.Dial(ctx)
	quiet(t, bc, "message")
	hist, err := bob.API.Messages(ctx, conv.ConversationID, client.HistoryOptions{})
	if err != nil || len(hist) != 0 {
		t.Fatalf("bob's history = %d messages, %v; want none", len(hist), err)
	}
}
