package app_test

import (
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/clock"
)

var framesSent = regexp.MustCompile(`(?m)^parley_frames_sent_total (\S+)$`)

func sentFrames(t *testing.T, srv *apptest.Server) int {
	t.Helper()
	m := framesSent.FindStringSubmatch(metricsBody(t, srv))
	if m == nil {
		t.Fatal("no parley_frames_sent_total")
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// TestPresenceCostWith200Contacts counts the frames one connect and one
// disconnect cost for a user with 200 contacts, 100 of them online: the
// fan-out is to online contacts only, one frame each way. Each client
// reads what was queued for it up to a heartbeat's ack, and the server's
// counter must come to exactly what the clients read.
func TestPresenceCostWith200Contacts(t *testing.T) {
	ctx := testCtx(t)
	// The offline announcement waits out a grace on a fake clock, so the
	// test makes it happen and knows it is done.
	clk := clock.NewFake(time.Now())
	cfg := apptest.Config(t)
	cfg.PresenceGrace = time.Second
	srv := apptest.Start(t, cfg, clk)
	hub := srv.NewUser(ctx, "popular")
	contacts := users(ctx, srv, "contact", 200)
	for _, c := range contacts {
		if _, err := c.API.CreateDirect(ctx, hub.UserID); err != nil {
			t.Fatal(err)
		}
	}
	online := make([]*client.Conn, 100)
	sent := 0 // frames the clients read: the server wrote, and counts, each
	for i, c := range contacts[:100] {
		online[i] = c.Dial(ctx)
		sent += len(upToAck(t, online[i])) // what the connect itself caused
	}
	waitSent(t, srv, sent)
	before := sent

	// The hub's snapshot is queued, and its contacts told, while it
	// connects, before the server reads its first frame.
	hc := hub.Dial(ctx)
	frames := upToAck(t, hc)
	for _, f := range frames[:len(frames)-1] {
		if f.Type != "presence" || f.Status != "online" {
			t.Fatalf("hub got %s on connect", f.Raw)
		}
	}
	sent += len(frames)
	told := func(status string) {
		t.Helper()
		for _, c := range online {
			frames := upToAck(t, c)
			for _, f := range frames[:len(frames)-1] {
				if f.Type != "presence" || f.UserID != hub.UserID || f.Status != status {
					t.Fatalf("contact got %s, want the hub %s", f.Raw, status)
				}
			}
			sent += len(frames)
		}
	}
	told("online")
	acks := 1 + len(online)
	waitSent(t, srv, sent)
	connect := sent - before - acks

	before = sent
	hc.Close()
	if err := clk.WaitForTimers(ctx, cfg.PresenceGrace, 1); err != nil {
		t.Fatal(err) // the server never handled the close
	}
	clk.Advance(cfg.PresenceGrace) // the announcement is made within Advance
	told("offline")
	waitSent(t, srv, sent)
	disconnect := sent - before - len(online)
	t.Logf("user with 200 contacts, 100 online: connect = %d frames, disconnect = %d frames", connect, disconnect)
	if connect != 200 || disconnect != 100 {
		t.Fatalf("connect cost %d frames (want 100 to contacts + 100 snapshot), disconnect %d (want 100)", connect, disconnect)
	}
}

// upToAck sends a heartbeat and returns the frames c reads up to its ack,
// the ack last: everything queued for c before the server handled the
// heartbeat (the connection's one writer writes in queue order).
func upToAck(t *testing.T, c *client.Conn) []client.Frame {
	t.Helper()
	ctx := testCtx(t)
	if err := c.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	var out []client.Frame
	for {
		f, err := c.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
		if f.Type == "heartbeat_ack" {
			return out
		}
	}
}

// waitSent waits until the server's count of frames sent is want, the
// number its clients have read. The server counts a frame just after
// writing it, so a client may read it first; the count follows at once,
// and is polled for until the test's deadline. A count past want is a
// frame no client read.
func waitSent(t *testing.T, srv *apptest.Server, want int) {
	t.Helper()
	ctx := testCtx(t)
	for {
		n := sentFrames(t, srv)
		if n == want {
			return
		}
		if n > want {
			t.Fatalf("the server counts %d frames sent; the clients read %d", n, want)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the server counts %d frames sent; the clients read %d", n, want)
		case <-time.After(time.Millisecond):
		}
	}
}
