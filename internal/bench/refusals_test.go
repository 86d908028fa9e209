package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parleychat/parley/client"
)

// refusingServer answers the first attempt of every message with the
// refusal the server's push-back sends when its commit queue is full,
// and a resend with its ack. It records the attempts' content stamps.
type refusingServer struct {
	retryAfterMS int
	mu           sync.Mutex
	attempts     map[string][]string // client_message_id → contents
}

func (s *refusingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer ws.CloseNow()
	ctx := r.Context()
	for seq := 1; ; {
		_, b, err := ws.Read(ctx)
		if err != nil {
			return
		}
		var in struct {
			Type            string `json:"type"`
			ClientMessageID string `json:"client_message_id"`
			Content         string `json:"content"`
		}
		if err := json.Unmarshal(b, &in); err != nil || in.Type != "message" {
			continue
		}
		s.mu.Lock()
		s.attempts[in.ClientMessageID] = append(s.attempts[in.ClientMessageID], in.Content)
		first := len(s.attempts[in.ClientMessageID]) == 1
		s.mu.Unlock()
		var out string
		if first {
			out = fmt.Sprintf(`{"type":"error","code":"rate_limited","message":"commit queue full: resend later","client_message_id":%q,"retry_after_ms":%d}`,
				in.ClientMessageID, s.retryAfterMS)
		} else {
			out = fmt.Sprintf(`{"type":"message_ack","client_message_id":%q,"message_id":"m%d","conversation_id":"c","sequence_number":%d,"status":"sent","timestamp":1}`,
				in.ClientMessageID, seq, seq)
			seq++
		}
		if err := ws.Write(ctx, websocket.MessageText, []byte(out)); err != nil {
			return
		}
	}
}

// TestRefusedMessagesAreResent: in both generator modes, a message
// refused as rate_limited is counted apart from errors, resent with the
// same client_message_id after retry_after_ms, stays in flight (holds its
// window slot) until acked, and its send→ack counts from the resend.
func TestRefusedMessagesAreResent(t *testing.T) {
	generators(t, func(t *testing.T, mode string) {
		const messages, retry = 12, 60
		srv := &refusingServer{retryAfterMS: retry, attempts: map[string][]string{}}
		hs := httptest.NewServer(srv)
		defer hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		u := &user{api: &client.Client{BaseURL: hs.URL, Token: "t", HTTP: hs.Client()}}
		d := &dialer{clients: []*http.Client{hs.Client()}, nets: []*net.Dialer{{}}}
		w, err := d.dialWire(ctx, u, mode)
		if err != nil {
			t.Fatal(err)
		}
		e := &env{clock: newClock()}
		tr := newTraffic(ctx, e, 0)
		tr.span.open(0)
		s := tr.newSender(w, "c", 4, 20)
		start := time.Now()
		tr.send(func(_ int, s *sender) error { return s.closedLoop(tr.stop, messages) })
		for tr.cnt.acked.Load() < messages && time.Since(start) < 20*time.Second {
			time.Sleep(5 * time.Millisecond)
		}
		elapsed := time.Since(start)
		tr.finish(5 * time.Second)
		if err := firstOf(tr.err(), tr.errs.get()); err != nil {
			t.Fatal(err)
		}
		c := &tr.cnt
		if c.sent.Load() != messages || c.acked.Load() != messages || c.refused.Load() != messages ||
			c.resent.Load() != messages || c.errors.Load() != 0 {
			t.Fatalf("sent %d acked %d refused %d resent %d errors %d; want %d, %[6]d, %[6]d, %[6]d and 0",
				c.sent.Load(), c.acked.Load(), c.refused.Load(), c.resent.Load(), c.errors.Load(), messages)
		}
		// Each message holds its slot while refused: with 4 in flight,
		// 12 messages take three rounds of the retry wait at least.
		if elapsed < 3*retry*time.Millisecond {
			t.Errorf("12 refused messages acked in %s with a window of 4 and a %d ms wait", elapsed, retry)
		}
		srv.mu.Lock()
		defer srv.mu.Unlock()
		for cmid, contents := range srv.attempts {
			if len(contents) != 2 {
				t.Errorf("%s: %d attempts, want 2", cmid, len(contents))
				continue
			}
			first, _ := stamp([]byte(contents[0]))
			again, _ := stamp([]byte(contents[1]))
			if time.Duration(again-first) < retry*time.Millisecond {
				t.Errorf("%s resent %s after its refusal, before retry_after_ms", cmid, time.Duration(again-first))
			}
		}
		// Latency from the accepted attempt: well under the retry wait.
		if len(s.ackLat) != messages || slices.Max(s.ackLat) >= int64(retry*time.Millisecond) {
			t.Errorf("send→ack samples %v: want %d, each from the resend (< %d ms)", s.ackLat, messages, retry)
		}
	})
}
