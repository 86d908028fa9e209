package app_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/app"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/clock"
)

const month = 30 * 24 * time.Hour

// retentionPair starts a server on a fake clock with a 30-day retention
// and a cleanup job that only runs when the test says so.
func retentionPair(t *testing.T) (*apptest.Server, *clock.Fake, *apptest.User, *apptest.User, client.Conversation) {
	t.Helper()
	ctx := testCtx(t)
	clk := clock.NewFake(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	cfg := apptest.Config(t)
	cfg.Retention = month
	cfg.CleanupInterval = time.Hour // never during a test: the fake clock does not tick it
	cfg.SessionTTL = 90 * 24 * time.Hour
	srv := apptest.Start(t, cfg, clk)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
	conv, err := alice.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	return srv, clk, alice, bob, conv
}

func TestQueuedMessageDeliveredUntilRetention(t *testing.T) {
	ctx := testCtx(t)
	_, clk, alice, bob, conv := retentionPair(t)
	ac := alice.Dial(ctx)
	ack, err := ac.SendMessage(ctx, text("old", conv.ConversationID, "still there?"))
	if err != nil {
		t.Fatal(err)
	}
	// 29 days 23 hours later: delivered.
	clk.Advance(month - time.Hour)
	bc := bob.Dial(ctx)
	if f, err := bc.Next(ctx, "message"); err != nil || f.MessageID != ack.MessageID {
		t.Fatalf("at 29d23h: %+v, %v", f, err)
	}
	bc.Close()
	waitPresence(t, alice, bob.UserID, "offline")
	// 30 days and 1 second: never delivered, even though no cleanup ran.
	clk.Advance(time.Hour + time.Second)
	bc = bob.Dial(ctx)
	if err := bc.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	if f, err := bc.Next(ctx, "message", "heartbeat_ack"); err != nil || f.Type != "heartbeat_ack" {
		t.Fatalf("at 30d+1s bob got %+v, %v", f, err)
	}
	hist, err := bob.API.Messages(ctx, conv.ConversationID, client.HistoryOptions{})
	if err != nil || len(hist) != 0 {
		t.Fatalf("history after expiry = %d messages, %v", len(hist), err)
	}
	if _, err := alice.API.MessageStatus(ctx, ack.MessageID); client.ErrorCode(err) != "not_found" {
		t.Fatalf("status after expiry: %v, want not_found", err)
	}
	list, err := bob.API.Conversations(ctx)
	if err != nil || len(list) != 1 || list[0].LastMessage != nil || (list[0].UnreadCount == nil || *list[0].UnreadCount != 0) {
		t.Fatalf("list after expiry = %+v, %v", list, err)
	}
}

func TestSenderLearnsOfExpiry(t *testing.T) {
	ctx := testCtx(t)
	srv, clk, alice, bob, conv := retentionPair(t)
	carol := srv.NewUser(ctx, "carol")
	g, err := alice.API.CreateGroup(ctx, "g", []string{bob.UserID, carol.UserID})
	if err != nil {
		t.Fatal(err)
	}
	ac := alice.Dial(ctx)
	laptop := alice.NewDevice(ctx) // stays offline through the cleanup
	lost, err := ac.SendMessage(ctx, text("lost", conv.ConversationID, "you will never see this"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ac.SendMessage(ctx, text("got", conv.ConversationID, "but this one you get"))
	if err != nil {
		t.Fatal(err)
	}
	inGroup, err := ac.SendMessage(ctx, text("grp", g.ConversationID, "group"))
	if err != nil {
		t.Fatal(err)
	}
	// bob acks nothing; carol acks the group message.
	cc := carol.Dial(ctx)
	if f, err := cc.Next(ctx, "message"); err != nil || f.MessageID != inGroup.MessageID {
		t.Fatal(f, err)
	}
	if err := cc.Ack(ctx, inGroup.MessageID); err != nil {
		t.Fatal(err)
	}
	if f, err := ac.Next(ctx, "status"); err != nil || f.Status != "delivered" {
		t.Fatal(f, err)
	}
	clk.Advance(month + time.Minute)
	// A month without a frame is past the heartbeat timeout, so the server
	// closed alice's connection (as it would on the wall clock); she is
	// back before the cleanup runs. Once she shows offline the server is
	// done with the old connection, its receipt cursor saved.
	waitPresence(t, bob, alice.UserID, "offline")
	ac = served(t, alice.Dial(ctx))
	sum, err := srv.App.RunCleanup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.ExpiredMessages != 3 || sum.ExpiredStatuses != 3 {
		t.Fatalf("summary = %+v; want 3 messages and 3 expired statuses (bob x2 in the 1:1, bob in the group)", sum)
	}
	seen := map[string]bool{}
	for range 3 {
		f, err := ac.Next(ctx, "status")
		if err != nil {
			t.Fatal(err)
		}
		if f.Status != "expired" || f.UserID != bob.UserID {
			t.Fatalf("status = %+v", f)
		}
		seen[f.MessageID] = true
	}
	if !seen[lost.MessageID] || !seen[got.MessageID] || !seen[inGroup.MessageID] {
		t.Fatalf("expired statuses for %v", seen)
	}
	// A device of the sender that was offline during the cleanup learns
	// on its next connect.
	second := apptest.Dial(ctx, t, laptop)
	for range 3 {
		if f, err := second.Next(ctx, "status"); err != nil || f.Status != "expired" {
			t.Fatalf("on connect: %+v, %v", f, err)
		}
	}
}

func TestCleanupInBatchesWhileSending(t *testing.T) {
	ctx := testCtx(t)
	clk := clock.NewFake(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	cfg := apptest.Config(t)
	cfg.Retention = month
	cfg.CleanupInterval = time.Hour
	cfg.CleanupBatch = 7
	cfg.SessionTTL = 90 * 24 * time.Hour
	srv := apptest.Start(t, cfg, clk)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
	conv, _ := alice.API.CreateDirect(ctx, bob.UserID)
	ac := alice.Dial(ctx)
	const old = 200
	for i := range old {
		if _, err := ac.SendMessage(ctx, text(fmt.Sprint("old", i), conv.ConversationID, strings.Repeat("x", 100))); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(month + time.Second)
	ac = alice.Dial(ctx) // the month of silence timed the first connection out
	var wg sync.WaitGroup
	var sendErr error
	wg.Go(func() {
		for i := range 100 {
			if _, err := ac.SendMessage(ctx, text(fmt.Sprint("new", i), conv.ConversationID, "fresh")); err != nil {
				sendErr = err
				return
			}
		}
	})
	sum, err := srv.App.RunCleanup(ctx)
	wg.Wait()
	if err != nil || sendErr != nil {
		t.Fatal(err, sendErr)
	}
	if sum.ExpiredMessages != old || sum.ExpiredBytes != old*100 {
		t.Fatalf("summary = %+v", sum)
	}
	hist, err := bob.API.Messages(ctx, conv.ConversationID, client.HistoryOptions{Limit: 500})
	if err != nil || len(hist) != 100 || hist[0].SequenceNumber != old+1 {
		t.Fatalf("after cleanup: %d messages from seq %v, %v", len(hist), hist, err)
	}
	// Sequence numbers go on from where they were: expiry never reuses them.
	a, err := ac.SendMessage(ctx, text("last", conv.ConversationID, "x"))
	if err != nil || a.SequenceNumber != old+100+1 {
		t.Fatalf("next seq = %+v, %v", a, err)
	}
	body := metricsBody(t, srv)
	for _, want := range []string{`parley_retention_deleted_total{kind="messages"} 200`, "parley_retention_cleanup_seconds_count 1", "parley_oldest_pending_seconds"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestClockJumpBackDoesNotExpireEarly(t *testing.T) {
	ctx := testCtx(t)
	srv, clk, alice, bob, conv := retentionPair(t)
	ac := alice.Dial(ctx)
	ack, err := ac.SendMessage(ctx, text("m", conv.ConversationID, "x"))
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(-10 * 24 * time.Hour) // the clock jumps back ten days
	clk.Advance(month - time.Hour)    // then 29d23h pass on the wall clock
	if sum, err := srv.App.RunCleanup(ctx); err != nil || sum.ExpiredMessages != 0 {
		t.Fatalf("cleanup after a backward jump = %+v, %v", sum, err)
	}
	bc := bob.Dial(ctx)
	if f, err := bc.Next(ctx, "message"); err != nil || f.MessageID != ack.MessageID {
		t.Fatalf("after a backward jump: %+v, %v", f, err)
	}
}

// TestRetentionRealProcess runs `parley serve --retention 3s` and shows an
// undelivered message gone after the period.
func TestRetentionRealProcess(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dataDir, addr := t.TempDir(), freeAddr(t)
	startChild(t, dataDir, addr, "--retention", "3s", "--cleanup-interval", "250ms")
	api := client.New("http://" + addr)
	login := func(name string) (*client.Client, string) {
		if _, err := api.Register(ctx, name, "retention pass", name); err != nil {
			t.Fatal(err)
		}
		s, err := api.Login(ctx, name, "retention pass")
		if err != nil {
			t.Fatal(err)
		}
		return api.WithToken(s.Token), s.UserID
	}
	alice, _ := login("alice")
	bob, bobID := login("bob")
	conv, err := alice.CreateDirect(ctx, bobID)
	if err != nil {
		t.Fatal(err)
	}
	ac, err := alice.Dial(ctx, client.DialOptions{Heartbeat: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	ack, err := ac.SendMessage(ctx, text("gone", conv.ConversationID, "ephemeral"))
	if err != nil {
		t.Fatal(err)
	}
	// The cleanup job tells the sender, live, once the period has passed.
	f, err := ac.Next(ctx, "status")
	if err != nil || f.Status != "expired" || f.MessageID != ack.MessageID || f.UserID != bobID {
		t.Fatalf("status = %+v, %v", f, err)
	}
	if f.Timestamp-ack.Timestamp < 3000 {
		t.Fatalf("expired after %d ms, before the 3 s retention", f.Timestamp-ack.Timestamp)
	}
	bc, err := bob.Dial(ctx, client.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer bc.Close()
	if err := bc.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	if f, err := bc.Next(ctx, "message", "heartbeat_ack"); err != nil || f.Type != "heartbeat_ack" {
		t.Fatalf("bob got %+v after the retention period", f)
	}
	if msgs, err := bob.Messages(ctx, conv.ConversationID, client.HistoryOptions{}); err != nil || len(msgs) != 0 {
		t.Fatalf("history = %v, %v", msgs, err)
	}
}

// TestCleanupCommandExpiresThroughTheCommitter: `parley cleanup` on a
// stopped server's data dir (App.Cleanup) runs the committer for its
// expiries: the undelivered message goes, its "expired" status is recorded
// for the sender's next connect, and the store is closed after.
func TestCleanupCommandExpiresThroughTheCommitter(t *testing.T) {
	ctx := testCtx(t)
	cfg := apptest.Config(t)
	cfg.Retention = time.Hour
	start := time.Now()
	clk := clock.NewFake(start)
	srv := apptest.Start(t, cfg, clk)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
	conv, err := alice.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	ac := alice.Dial(ctx)
	if _, err := ac.SendMessage(ctx, text("old", conv.ConversationID, "never read")); err != nil {
		t.Fatal(err)
	}
	ac.Close()
	srv.Stop()

	a, err := app.New(ctx, cfg, apptest.Logger(t), clock.NewFake(start.Add(2*time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := a.Cleanup(ctx)
	if err != nil || sum.ExpiredMessages != 1 || sum.ExpiredStatuses != 1 {
		t.Fatalf("cleanup = %+v, %v; want 1 message and 1 expired status", sum, err)
	}

	clk.Set(start.Add(2 * time.Hour))
	srv.Restart()
	ac = alice.Dial(ctx)
	f, err := ac.Next(ctx, "status")
	if err != nil || f.Status != "expired" || f.UserID != bob.UserID {
		t.Fatalf("alice on connect: %+v, %v; want bob's expired", f, err)
	}
}
