package app_test

import (
	"testing"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/config"
)

// TestConnectCostsTwoStoreRoundTrips: a device that signed in and has
// nothing waiting connects with at most two store round trips (the
// session and the presence settings come from memory; the contacts, and
// where the device stands, are one query each), and reads its queue only
// when something is queued.
func TestConnectCostsTwoStoreRoundTrips(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testConnectCost(t, apptest.Config(t)) })
	t.Run("postgres", func(t *testing.T) {
		cfg := apptest.Config(t)
		cfg.Store = apptest.Postgres(t)
		testConnectCost(t, cfg)
	})
}

func testConnectCost(t *testing.T, cfg config.Config) {
	ctx := testCtx(t)
	srv := apptest.Start(t, cfg, nil)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
	conv, err := alice.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	const statements = "parley_store_statements_total"
	// connect dials a device and waits until it is served: its sync is
	// written before the heartbeat's answer.
	connect := func(device *client.Client) float64 {
		t.Helper()
		before := metric(t, srv, statements)
		c := served(t, apptest.Dial(ctx, t, device))
		n := metric(t, srv, statements) - before
		_ = c.Close()
		return n
	}

	// The first connect of a user reads its settings with its contacts.
	if n := connect(bob.NewDevice(ctx)); n > 2 {
		t.Errorf("first connect of a signed-in device: %v store statements, want at most 2", n)
	}
	// Its settings are cached now: the next device reads its contacts
	// and where it stands, nothing more.
	if n := connect(bob.NewDevice(ctx)); n > 2 {
		t.Errorf("connect with the settings cached: %v store statements, want at most 2", n)
	}

	// With a message queued the queue is read too: one more.
	waiting := bob.NewDevice(ctx)
	ac := served(t, alice.Dial(ctx))
	if _, err := ac.SendMessage(ctx, text("queued", conv.ConversationID, "hi")); err != nil {
		t.Fatal(err)
	}
	if n := connect(waiting); n > 3 {
		t.Errorf("connect of a device with a message queued: %v store statements, want at most 3", n)
	}
}
