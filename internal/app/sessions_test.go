package app_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/clock"
)

// heartbeatAfter moves clk by d, then proves the connection still open
// with a heartbeat round trip (which also re-arms its silence timer).
func heartbeatAfter(t *testing.T, clk *clock.Fake, c *client.Conn, d time.Duration) {
	t.Helper()
	clk.Advance(d)
	ctx := testCtx(t)
	if err := c.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Next(ctx, "heartbeat_ack"); err != nil {
		t.Fatalf("connection closed early: %v (close %d)", err, c.CloseStatus())
	}
}

// TestOpenSocketClosesWhenItsSessionExpires: a token must not outlive its
// expiry through a connection opened before.
func TestOpenSocketClosesWhenItsSessionExpires(t *testing.T) {
	ctx := testCtx(t)
	clk := clock.NewFake(time.Now())
	cfg := apptest.Config(t)
	cfg.SessionTTL = 2 * time.Minute
	srv := apptest.Start(t, cfg, clk)
	u := srv.NewUser(ctx, "kim")
	c := served(t, u.Dial(ctx))

	heartbeatAfter(t, clk, c, 50*time.Second)
	heartbeatAfter(t, clk, c, 50*time.Second) // 100 s: still valid
	clk.Advance(25 * time.Second)             // 125 s: expired
	closedWith(ctx, t, c, 4001, "connection of an expired session")
	if err := c.Err(); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("close reason = %v, want it to say the session expired", err)
	}
	if _, err := u.API.Dial(ctx, client.DialOptions{}); err == nil {
		t.Fatal("an expired token opened a WebSocket")
	}
}

// TestSessionCheckClosesWhatTheBusMissed: a session that disappears
// without its revocation reaching this node (Redis cut off, or deleted by
// hand) still closes its connections at the next session check.
func TestSessionCheckClosesWhatTheBusMissed(t *testing.T) {
	ctx := testCtx(t)
	clk := clock.NewFake(time.Now())
	cfg := apptest.Config(t)
	cfg.SessionCheck = 30 * time.Second
	srv := apptest.Start(t, cfg, clk)
	u := srv.NewUser(ctx, "lee")
	other := u.NewDevice(ctx)
	gone, kept := served(t, u.Dial(ctx)), served(t, apptest.Dial(ctx, t, other))

	// Delete the session behind the server's back: no revocation event.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(srv.Cfg.DataDir, "parley.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), `DELETE FROM devices WHERE id = ?`, u.Session.DeviceID); err != nil {
		t.Fatal(err)
	}
	heartbeatAfter(t, clk, gone, 10*time.Second) // no check yet: still open

	clk.Advance(20 * time.Second) // the check
	closedWith(ctx, t, gone, 4001, "connection of a deleted session")
	heartbeatAfter(t, clk, kept, 0) // the other device's stays
}
