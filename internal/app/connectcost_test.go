package app_test

import (
	"testing"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/config"
)

// TestConnectCostsTwoStoreRoundTrips: a device that signed in and has
// nothing waiting connects with one store round trip (where it stands):
// its session, and its user's settings and contacts, were read into
// memory at login; uncached, settings and contacts are one more query.
// Its queue is read only when something is queued, and its contacts again
// only once they changed.
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
	// connect dials a device and waits until it is served (its sync is
	// written before the heartbeat's answer); the connection stays open,
	// so no user goes offline (a write of its last seen) meanwhile.
	var open []*client.Conn
	connect := func(device *client.Client) float64 {
		t.Helper()
		before := metric(t, srv, statements)
		open = append(open, served(t, apptest.Dial(ctx, t, device)))
		return metric(t, srv, statements) - before
	}

	// A login reads the user's settings and contacts into memory: the
	// first connect after it asks only where the device stands.
	if n := connect(bob.NewDevice(ctx)); n != 1 {
		t.Errorf("first connect of a signed-in device: %v store statements, want 1", n)
	}
	if n := connect(bob.NewDevice(ctx)); n != 1 {
		t.Errorf("connect of another device: %v store statements, want 1", n)
	}

	// With a message queued the queue is read too: one more.
	waiting := bob.NewDevice(ctx)
	ac := served(t, alice.Dial(ctx))
	if _, err := ac.SendMessage(ctx, text("queued", conv.ConversationID, "hi")); err != nil {
		t.Fatal(err)
	}
	// Every open connection of the conversation reads its delivery cursor
	// as the message reaches it, on its own writer: counted in the window
	// below unless done by then. The message was queued to each before
	// the ack; a connection's frames come out in queue order, so each has
	// done its read once it wrote the message (bob's devices) or the
	// answer to a later heartbeat (alice's own, which skips its message).
	for _, c := range open {
		if _, err := c.Next(ctx, "message"); err != nil {
			t.Fatal(err)
		}
	}
	served(t, ac)
	if n := connect(waiting); n != 2 {
		t.Errorf("connect of a device with a message queued: %v store statements, want 2", n)
	}

	// Bob's first reply makes alice his contact: his cached contacts are
	// dropped, and the next connect (of a device signed in before) reads
	// them again.
	late := bob.NewDevice(ctx)
	bc := served(t, bob.Dial(ctx))
	if _, err := bc.SendMessage(ctx, text("reply", conv.ConversationID, "hello")); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.Next(ctx, "message"); err != nil { // the contact event went out before it
		t.Fatal(err)
	}
	// The reply and the contact event were queued to every open
	// connection before the ack; each handles the contact event on its
	// writer, with reads of its own. Past a heartbeat's answer, all are
	// done.
	for _, c := range append(open, ac, bc) {
		served(t, c)
	}
	// (late has both messages queued: the queue is read too.)
	if n := connect(late); n != 3 {
		t.Errorf("connect after bob's contacts changed: %v store statements, want 3 (contacts read again, and the queue)", n)
	}
}

// TestConnectUncachedCostsTwoStoreRoundTrips: with nothing of the user in
// memory (the presence caches off), settings and contacts are one query,
// where the device stands the other.
func TestConnectUncachedCostsTwoStoreRoundTrips(t *testing.T) {
	ctx := testCtx(t)
	cfg := apptest.Config(t)
	cfg.PresenceCacheEntries = 0
	srv := apptest.Start(t, cfg, nil)
	bob := srv.NewUser(ctx, "bob")
	device := bob.NewDevice(ctx)
	before := metric(t, srv, "parley_store_statements_total")
	served(t, apptest.Dial(ctx, t, device))
	if n := metric(t, srv, "parley_store_statements_total") - before; n != 2 {
		t.Fatalf("connect with the presence caches off: %v store statements, want 2", n)
	}
}
