package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// fakeServer answers each message frame on /ws with what answer returns for
// its attempt number (0 for the first time its client_message_id is seen)
// and records every frame it read, with the time it read it.
type fakeServer struct {
	answer func(cmid string, attempt int) map[string]any

	mu     sync.Mutex
	frames []received
	seen   map[string]int
	// answered gets the answer frames as they are written.
	answered chan map[string]any
}

type received struct {
	raw string
	at  time.Time
}

func startFake(t *testing.T, answer func(cmid string, attempt int) map[string]any) (*fakeServer, *Conn) {
	t.Helper()
	fs := &fakeServer{answer: answer, seen: map[string]int{}, answered: make(chan map[string]any, 100)}
	srv := httptest.NewServer(http.HandlerFunc(fs.serve))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	conn, err := New(srv.URL).WithToken("t").Dial(ctx, DialOptions{SendRetries: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Abort)
	return fs, conn
}

func (fs *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer ws.CloseNow()
	for {
		_, data, err := ws.Read(r.Context())
		if err != nil {
			return
		}
		now := time.Now()
		var f struct {
			Type            string `json:"type"`
			ClientMessageID string `json:"client_message_id"`
		}
		if json.Unmarshal(data, &f) != nil || f.Type != "message" {
			continue
		}
		fs.mu.Lock()
		fs.frames = append(fs.frames, received{string(data), now})
		attempt := fs.seen[f.ClientMessageID]
		fs.seen[f.ClientMessageID]++
		fs.mu.Unlock()
		a := fs.answer(f.ClientMessageID, attempt)
		b, _ := json.Marshal(a)
		if err := ws.Write(r.Context(), websocket.MessageText, b); err != nil {
			return
		}
		fs.answered <- a
	}
}

func (fs *fakeServer) received() []received {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]received(nil), fs.frames...)
}

func busy(cmid string, ms int) map[string]any {
	a := map[string]any{"type": "error", "code": "rate_limited", "message": "server busy: resend after retry_after_ms", "client_message_id": cmid}
	if ms > 0 {
		a["retry_after_ms"] = ms
	}
	return a
}

func ack(cmid string, seq int) map[string]any {
	return map[string]any{"type": "message_ack", "client_message_id": cmid, "message_id": fmt.Sprintf("m%d", seq),
		"conversation_id": "c", "sequence_number": seq, "status": "sent", "timestamp": 1}
}

// TestSendMessageResendsAfterTheHint: a rate_limited refusal with
// retry_after_ms is answered by the same frame, sent again no sooner than
// the hint; the caller gets the ack as if nothing happened.
func TestSendMessageResendsAfterTheHint(t *testing.T) {
	const hint = 30 // ms
	fs, conn := startFake(t, func(cmid string, attempt int) map[string]any {
		if attempt < 2 {
			return busy(cmid, hint)
		}
		return ack(cmid, 7)
	})
	ctx := context.Background()
	a, err := conn.SendMessage(ctx, OutgoingMessage{ClientMessageID: "k1", ConversationID: "c", Content: "hello"})
	if err != nil || a.SequenceNumber != 7 || a.ClientMessageID != "k1" {
		t.Fatalf("SendMessage = %+v, %v; want the ack of the third attempt", a, err)
	}
	got := fs.received()
	if len(got) != 3 {
		t.Fatalf("the server read %d frames, want 3", len(got))
	}
	for i, f := range got[1:] {
		if f.raw != got[0].raw {
			t.Errorf("resend %d differs from the first frame:\n%s\n%s", i+1, f.raw, got[0].raw)
		}
		// A lower bound only: a timer never fires early, so this cannot
		// flake however slow the machine is.
		if gap := f.at.Sub(got[i].at); gap < hint*time.Millisecond {
			t.Errorf("resend %d came %s after the refused frame, before the %d ms hint", i+1, gap, hint)
		}
	}
}

// TestSendMessageReturnsRefusals: without a hint, past the retries, with
// retries off or for another code, SendMessage returns the refusal.
func TestSendMessageReturnsRefusals(t *testing.T) {
	fs, conn := startFake(t, func(cmid string, attempt int) map[string]any {
		switch cmid {
		case "nohint":
			return busy(cmid, 0)
		case "forbidden":
			return map[string]any{"type": "error", "code": "forbidden", "message": "not a member", "client_message_id": cmid, "retry_after_ms": 5}
		}
		return busy(cmid, 1) // "always": refused every time
	})
	ctx := context.Background()
	check := func(cmid, code string, retry time.Duration, frames int) {
		t.Helper()
		before := len(fs.received())
		_, err := conn.SendMessage(ctx, OutgoingMessage{ClientMessageID: cmid, ConversationID: "c", Content: "x"})
		var e *Error
		if !errors.As(err, &e) || e.Code != code || e.RetryAfter != retry {
			t.Fatalf("%s: err %v, want %s with RetryAfter %s", cmid, err, code, retry)
		}
		if n := len(fs.received()) - before; n != frames {
			t.Fatalf("%s: the server read %d frames, want %d", cmid, n, frames)
		}
	}
	check("nohint", "rate_limited", 0, 1)
	check("forbidden", "forbidden", 5*time.Millisecond, 1)
	check("always", "rate_limited", time.Millisecond, 4) // the first send and SendRetries (3) more

	conn.retries = 0 // as DialOptions{SendRetries: -1}
	check("always-once", "rate_limited", time.Millisecond, 1)
}

// TestSendMessageWaitEndsWithContext: a caller whose context ends while
// SendMessage waits out a hint gets its context's error at once.
func TestSendMessageWaitEndsWithContext(t *testing.T) {
	fs, conn := startFake(t, func(cmid string, attempt int) map[string]any {
		return busy(cmid, 3_600_000) // an hour
	})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := conn.SendMessage(ctx, OutgoingMessage{ClientMessageID: "k", ConversationID: "c", Content: "x"})
		errc <- err
	}()
	<-fs.answered // refused: SendMessage now waits out the hour
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("SendMessage = %v, want context.Canceled", err)
	}
	if n := len(fs.received()); n != 1 {
		t.Fatalf("the server read %d frames, want 1", n)
	}
}
