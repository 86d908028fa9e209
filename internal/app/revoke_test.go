package app_test

import (
	"context"
	"testing"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
)

// closedWith waits for the server to close c and checks the close code.
func closedWith(ctx context.Context, t *testing.T, c *client.Conn, code int, what string) {
	t.Helper()
	select {
	case <-c.Done():
		if c.CloseStatus() != code {
			t.Fatalf("%s: closed with %d (%v), want %d", what, c.CloseStatus(), c.Err(), code)
		}
	case <-ctx.Done():
		t.Fatalf("%s: the connection stayed open", what)
	}
}

func TestLogoutClosesTheSessionsConnections(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	u := srv.NewUser(ctx, "gina")
	other := u.NewDevice(ctx)
	mine, theirs := u.Dial(ctx), apptest.Dial(ctx, t, other)
	served(t, mine)
	served(t, theirs)

	if err := u.API.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	closedWith(ctx, t, mine, 4001, "signed-out device")
	if _, err := u.API.Conversations(ctx); client.ErrorCode(err) != "unauthorized" {
		t.Fatalf("token after logout: %v, want unauthorized", err)
	}
	if _, err := u.API.Dial(ctx, client.DialOptions{}); err == nil {
		t.Fatal("a signed-out token opened a WebSocket")
	}
	// The other device is untouched.
	served(t, theirs)
	if _, err := other.Conversations(ctx); err != nil {
		t.Fatalf("other device after logout: %v", err)
	}
}

// TestClusterRevocationReachesOtherNodes: a session ended on one node (a
// newer login evicting it, or a sign-out) closes the device's socket on
// the node that holds it.
func TestClusterRevocationReachesOtherNodes(t *testing.T) {
	ctx := testCtx(t)
	pg := apptest.Postgres(t)
	redisURL, prefix := apptest.Redis(t)
	cfgA := clusterConfig(t, pg, redisURL, prefix, "node-a")
	cfgB := clusterConfig(t, pg, redisURL, prefix, "node-b")
	cfgA.MaxDevices, cfgB.MaxDevices = 2, 2
	na := apptest.Start(t, cfgA, nil)
	nb := apptest.Start(t, cfgB, nil)

	u := na.NewUser(ctx, "hugo") // device 1, logged in through node A
	evicted := apptest.Dial(ctx, t, on(nb, u))
	second := u.NewDevice(ctx) // device 2
	signedOut := apptest.Dial(ctx, t, client.New(nb.URL).WithToken(second.Token))
	served(t, evicted)
	served(t, signedOut)

	third := u.NewDevice(ctx) // through node A: evicts device 1
	closedWith(ctx, t, evicted, 4001, "device evicted on another node")

	if err := second.Logout(ctx); err != nil { // through node A
		t.Fatal(err)
	}
	closedWith(ctx, t, signedOut, 4001, "device signed out on another node")
	if _, err := third.Conversations(ctx); err != nil {
		t.Fatalf("the newest device: %v", err)
	}
}
