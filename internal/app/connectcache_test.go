package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/config"
)

// unauthorized dials c and wants the upgrade refused with 401.
func unauthorized(ctx context.Context, t *testing.T, c *client.Client, what string) {
	t.Helper()
	conn, err := c.Dial(ctx, client.DialOptions{})
	if err == nil {
		conn.Abort()
		t.Fatalf("%s: a WebSocket opened", what)
	}
	if e, ok := err.(*client.Error); !ok || e.Status != 401 {
		t.Fatalf("%s: %v, want 401", what, err)
	}
}

// dialAndLeave connects c and closes the connection at once: the node
// keeps the session in its cache, not a connection.
func dialAndLeave(ctx context.Context, t *testing.T, c *client.Client) {
	t.Helper()
	conn := served(t, apptest.Dial(ctx, t, c))
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCachedSessionsEndWithTheSession: in the embedded mode a token that
// connected (and so is cached) is refused at once after its sign-out, and
// after a newer login evicted it.
func TestCachedSessionsEndWithTheSession(t *testing.T) {
	ctx := testCtx(t)
	cfg := apptest.Config(t)
	cfg.MaxDevices = 2
	srv := apptest.Start(t, cfg, nil)
	u := srv.NewUser(ctx, "nia")
	dialAndLeave(ctx, t, u.API)
	dialAndLeave(ctx, t, u.API) // the second from the cache
	if err := u.API.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	unauthorized(ctx, t, u.API, "signed-out token")

	second := u.NewDevice(ctx) // the first login, now signed out, left room
	dialAndLeave(ctx, t, second)
	third := u.NewDevice(ctx)
	dialAndLeave(ctx, t, third)
	u.NewDevice(ctx) // evicts the second
	unauthorized(ctx, t, second, "evicted token")
	dialAndLeave(ctx, t, third)
}

// TestSessionCacheOff: with --session-cache-entries 0 sessions work as
// they did without a cache.
func TestSessionCacheOff(t *testing.T) {
	ctx := testCtx(t)
	cfg := apptest.Config(t)
	cfg.SessionCacheEntries, cfg.PresenceCacheEntries = 0, 0
	srv := apptest.Start(t, cfg, nil)
	u := srv.NewUser(ctx, "oto")
	dialAndLeave(ctx, t, u.API)
	if err := u.API.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	unauthorized(ctx, t, u.API, "signed-out token, cache off")
}

// TestClusterSignOutReachesEveryNodesCache: a session signed out on node A
// is refused by node B at once, whether B holds a connection of it or only
// has the token cached from an earlier connect.
func TestClusterSignOutReachesEveryNodesCache(t *testing.T) {
	ctx := testCtx(t)
	pg := apptest.Postgres(t)
	redisURL, prefix := apptest.Redis(t)
	ca, cb := clusterConfig(t, pg, redisURL, prefix, "node-a"), clusterConfig(t, pg, redisURL, prefix, "node-b")
	ca.SessionCheck, cb.SessionCheck = 0, 0 // the control below must not meet a check
	na, nb := apptest.Start(t, ca, nil), apptest.Start(t, cb, nil)

	u := na.NewUser(ctx, "pia")
	held := served(t, apptest.Dial(ctx, t, on(nb, u))) // device 1: a connection on B
	cachedOnly := u.NewDevice(ctx)                     // device 2, through A
	onB := func(c *client.Client) *client.Client { return client.New(nb.URL).WithToken(c.Token) }
	dialAndLeave(ctx, t, onB(cachedOnly)) // B caches it, holds nothing

	// A witness of B's bus: x on A writes to w on B. A message published
	// after the sign-out reaches B after its invalidation (one pub/sub
	// connection, in order), so once w has it B has dropped the session.
	x, w := na.NewUser(ctx, "xan"), na.NewUser(ctx, "wes")
	conv, err := x.API.CreateDirect(ctx, w.UserID)
	if err != nil {
		t.Fatal(err)
	}
	xc, wc := x.Dial(ctx), apptest.Dial(ctx, t, on(nb, w))
	served(t, wc)
	witness := func(id string) {
		t.Helper()
		ack, err := xc.SendMessage(ctx, text(id, conv.ConversationID, id))
		if err != nil {
			t.Fatal(err)
		}
		for {
			f, err := wc.Next(ctx, "message")
			if err != nil {
				t.Fatal(err)
			}
			if f.MessageID == ack.MessageID {
				return
			}
		}
	}

	if err := cachedOnly.Logout(ctx); err != nil { // through A
		t.Fatal(err)
	}
	witness("after-logout")
	unauthorized(ctx, t, onB(cachedOnly), "token signed out on A, cached on B")

	if err := u.API.Logout(ctx); err != nil { // through A
		t.Fatal(err)
	}
	closedWith(ctx, t, held, 4001, "device signed out on A")
	unauthorized(ctx, t, on(nb, u), "token signed out on A, connected on B")

	// The control: a session deleted behind the nodes' backs (no
	// invalidation) still passes B's authentication from its cache, until
	// the next session check or the cache's max age. It shows that the
	// refusals above were the invalidations' doing, not a store read.
	// The sync after the upgrade finds the device gone and closes the
	// socket with 4001, as a revocation would.
	third := u.NewDevice(ctx)
	dialAndLeave(ctx, t, onB(third))
	deleteSessionsOf(ctx, t, pg, u.UserID)
	conn, err := onB(third).Dial(ctx, client.DialOptions{})
	if err != nil {
		t.Fatalf("a cached session deleted without an invalidation: %v, want the upgrade accepted", err)
	}
	closedWith(ctx, t, conn, 4001, "a device deleted behind the cache's back")
}

// deleteSessionsOf deletes a user's sessions in PostgreSQL directly.
func deleteSessionsOf(ctx context.Context, t *testing.T, dsn, userID string) {
	t.Helper()
	db, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.WithoutCancel(ctx))
	if _, err := db.Exec(ctx, `DELETE FROM device_cursors WHERE device_id IN (SELECT id FROM devices WHERE user_id = $1)`, userID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `DELETE FROM devices WHERE user_id = $1`, userID); err != nil {
		t.Fatal(err)
	}
}

// TestClusterSettingsReachEveryNodesCache: presence settings saved on
// node A are what node B's next snapshot uses, though B cached the old
// ones.
func TestClusterSettingsReachEveryNodesCache(t *testing.T) {
	ctx := testCtx(t)
	na, nb := twoNodesWith(t, func(*config.Config) {})
	fox, eli := na.NewUser(ctx, "fox"), na.NewUser(ctx, "eli")
	conv, err := fox.API.CreateDirect(ctx, eli.UserID)
	if err != nil {
		t.Fatal(err)
	}
	fc := served(t, fox.Dial(ctx)) // fox online, on A
	first := apptest.Dial(ctx, t, on(nb, eli))
	// B reads fox's settings for the snapshot, and caches them.
	if f, err := first.Next(ctx, "presence"); err != nil || f.UserID != fox.UserID || f.Status != "online" {
		t.Fatalf("snapshot on B = %+v, %v", f, err)
	}

	setPrivacy(t, fox, map[string]string{"online_visibility": "nobody"}) // through A
	// The witness: a message from fox, published after the settings were
	// saved, reaches B after their invalidation.
	if _, err := fc.SendMessage(ctx, text("after-settings", conv.ConversationID, "hi")); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Next(ctx, "message"); err != nil {
		t.Fatal(err)
	}
	second := apptest.Dial(ctx, t, on(nb, eli))
	quiet(t, second, "presence") // the snapshot shows hidden fox no more
}

// TestClusterCachesEmptiedWhenRedisComesBack: an invalidation published
// while a node is cut off from Redis is lost to it; when its subscription
// is made again it empties its caches, so the signed-out token is refused
// then, not only once the entry ages out.
func TestClusterCachesEmptiedWhenRedisComesBack(t *testing.T) {
	// Its own deadline, like TestClusterRedisRestart's: the Redis client
	// reconnects in seconds on a loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pg := apptest.Postgres(t)
	redisURL, prefix := apptest.Redis(t)
	proxy := apptest.NewProxy(t, strings.TrimPrefix(strings.Split(redisURL, "/0")[0], "redis://"))
	ca := clusterConfig(t, pg, redisURL, prefix, "node-a")
	cb := clusterConfig(t, pg, "redis://"+proxy.Addr()+"/0", prefix, "node-b")
	ca.SessionCheck, cb.SessionCheck = 0, 0
	cb.CacheMaxAge = time.Hour // only the reconnect can empty B's cache in time
	na, nb := apptest.Start(t, ca, nil), apptest.Start(t, cb, nil)

	u := na.NewUser(ctx, "quin")
	dialAndLeave(ctx, t, on(nb, u)) // B caches the session
	proxy.Down()
	if err := u.API.Logout(ctx); err != nil { // through A: B does not hear of it
		t.Fatal(err)
	}
	proxy.Up()
	for {
		conn, err := on(nb, u).Dial(ctx, client.DialOptions{})
		if err == nil {
			conn.Abort() // B's cache still answers: not resubscribed yet
		} else if e, ok := err.(*client.Error); ok && e.Status == 401 {
			return
		} else if ctx.Err() != nil {
			t.Fatalf("node B still accepts a token signed out while it was cut off from Redis: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClusterContactsReachEveryNodesCache: a 1:1 created through node A
// drops the new contacts' cached contact sets on node B too, so B's next
// connect of either reads them again rather than serving the old set.
func TestClusterContactsReachEveryNodesCache(t *testing.T) {
	ctx := testCtx(t)
	na, nb := twoNodesWith(t, func(*config.Config) {})
	bob, carol := na.NewUser(ctx, "bob"), na.NewUser(ctx, "carol")
	held := served(t, apptest.Dial(ctx, t, on(nb, bob))) // B caches bob's settings and contacts (none)
	dialAndLeave(ctx, t, bob.NewDeviceOn(ctx, nb))       // … and serves the next connect from them
	const statements = "parley_store_statements_total"

	device := bob.NewDeviceOn(ctx, nb)                   // signed in (its login warms B's caches) before the change
	conv, err := carol.API.CreateDirect(ctx, bob.UserID) // through A: carol chose bob
	if err != nil {
		t.Fatal(err)
	}
	// The witness: a message published after the conversation was made
	// reaches bob on B after the invalidation did.
	cc := served(t, carol.Dial(ctx))
	if _, err := cc.SendMessage(ctx, text("after-contact", conv.ConversationID, "hi")); err != nil {
		t.Fatal(err)
	}
	if _, err := held.Next(ctx, "message"); err != nil {
		t.Fatal(err)
	}
	before := metric(t, nb, statements)
	dialAndLeave(ctx, t, device)
	// Contacts, where the device stands, its queue (carol's message):
	// without the invalidation B would skip the first.
	if n := metric(t, nb, statements) - before; n != 3 {
		t.Fatalf("bob's connect on B after carol chose him on A: %v store statements, want 3 (contacts read again)", n)
	}
}
