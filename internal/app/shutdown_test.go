package app_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
)

// TestGracefulShutdownFinishesInflightSends stops the server in the middle
// of a burst: every message the server took is committed and acked before
// the connection closes with 1001, and nothing unacked is stored.
func TestGracefulShutdownFinishesInflightSends(t *testing.T) {
	ctx := testCtx(t)
	srv, alice, _, conv := pair(t)
	ac := alice.Dial(ctx)
	const burst = 300
	go func() {
		for i := range burst {
			frame := fmt.Sprintf(`{"type":"message","client_message_id":"g%d","conversation_id":"%s","message_type":"text","content":"x"}`, i, conv.ConversationID)
			if ac.SendRaw(ctx, []byte(frame)) != nil {
				return
			}
		}
	}()
	if _, err := ac.Next(ctx, "message_ack"); err != nil {
		t.Fatal(err)
	}
	acks := 1
	stopped := make(chan struct{})
	go func() { srv.Stop(); close(stopped) }()
	for f := range ac.Frames() {
		if f.Type == "message_ack" {
			acks++
		}
	}
	<-stopped
	if ac.CloseStatus() != 1001 {
		t.Fatalf("close status = %d, want 1001 (going away): %v", ac.CloseStatus(), ac.Err())
	}
	srv.Restart()
	msgs, err := alice.API.Messages(ctx, conv.ConversationID, client.HistoryOptions{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != acks {
		t.Fatalf("%d messages stored, %d acked: the shutdown dropped an ack or stored an unacked message", len(msgs), acks)
	}
	t.Logf("%d of %d acked before shutdown", acks, burst)
}

func metricsBody(t *testing.T, srv *apptest.Server) string {
	t.Helper()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestObservabilityEndpoints(t *testing.T) {
	ctx := testCtx(t)
	srv, alice, _, conv := pair(t)
	ac := alice.Dial(ctx)
	if _, err := ac.SendMessage(ctx, text("m", conv.ConversationID, "x")); err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("/healthz = %d", code)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Fatalf("/readyz = %d", code)
	}
	code, body := get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{"parley_connections 1", "parley_messages_stored_total 1", "parley_send_seconds_bucket",
		"parley_commit_batch_size", "parley_send_queue_depth 0"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if code, _ := get("/debug/pprof/"); code == 200 {
		t.Fatal("pprof is served without --pprof")
	}
}
