package app_test

import (
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/apptest"
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
// fan-out is to online contacts only, one frame each way.
func TestPresenceCostWith200Contacts(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	hub := srv.NewUser(ctx, "popular")
	contacts := users(ctx, srv, "contact", 200)
	for _, c := range contacts {
		if _, err := c.API.CreateDirect(ctx, hub.UserID); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range contacts[:100] {
		conn := c.Dial(ctx)
		// Drain what the connect itself caused, so the count below is the
		// popular user's alone.
		if err := conn.Heartbeat(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Next(ctx, "heartbeat_ack"); err != nil {
			t.Fatal(err)
		}
	}
	// A frame is counted just after its write, which the client may see
	// first: let the counter settle before taking it.
	settled := func() int {
		t.Helper()
		n := sentFrames(t, srv)
		for {
			waitABit()
			m := sentFrames(t, srv)
			if m == n {
				return n
			}
			n = m
		}
	}
	before := settled()
	hc := hub.Dial(ctx)
	for range 100 {
		if _, err := hc.Next(ctx, "presence"); err != nil { // the snapshot
			t.Fatal(err)
		}
	}
	if err := hc.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := hc.Next(ctx, "heartbeat_ack"); err != nil {
		t.Fatal(err)
	}
	// Every online contact got one frame; make sure they are all written.
	waitFrames := func(want int) int {
		t.Helper()
		for range 200 {
			if n := sentFrames(t, srv) - before; n >= want {
				return n
			}
			waitABit()
		}
		return sentFrames(t, srv) - before
	}
	waitFrames(201)
	connect := settled() - before - 1 // minus the heartbeat_ack
	before = settled()
	hc.Close()
	waitPresence(t, contacts[0], hub.UserID, "offline")
	waitFrames(100)
	disconnect := settled() - before
	t.Logf("user with 200 contacts, 100 online: connect = %d frames, disconnect = %d frames", connect, disconnect)
	if connect != 200 || disconnect != 100 {
		t.Fatalf("connect cost %d frames (want 100 to contacts + 100 snapshot), disconnect %d (want 100)", connect, disconnect)
	}
}

func waitABit() { time.Sleep(10 * time.Millisecond) }
