package redisdir

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// testRedis is a client of the test Redis (PARLEY_TEST_REDIS, default
// 127.0.0.1:6379) and a prefix of this test's own, deleted after it.
func testRedis(t *testing.T) (*redis.Client, string) {
	t.Helper()
	url := os.Getenv("PARLEY_TEST_REDIS")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		_ = rdb.Close()
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis at %s is required under CI: %v", url, err)
		}
		t.Skipf("SKIP: Redis at %s is not available (%v)", url, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "parley-test-" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		if keys, err := rdb.Keys(ctx, prefix+"*").Result(); err == nil && len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
		_ = rdb.Close()
	})
	return rdb, prefix
}

// TestDevices: the directory counts devices with their users, per
// connection; a device is online while a live node counts it; a node that
// dies takes its devices offline at once (its lease is gone), and the
// janitor removes what it left.
func TestDevices(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := testRedis(t)
	log := slog.New(slog.DiscardHandler)
	a := New(rdb, Config{Node: "a", Prefix: prefix, Lease: 3 * time.Second}, log)
	b := New(rdb, Config{Node: "b", Prefix: prefix, Lease: 3 * time.Second}, log)
	a.beat(ctx)
	b.beat(ctx)
	online := func(d *Directory, device string) bool {
		t.Helper()
		on, err := d.DeviceOnline(ctx, device)
		if err != nil {
			t.Fatal(err)
		}
		return on
	}
	userOnline := func(d *Directory, user string) bool {
		t.Helper()
		on, err := d.Online(ctx, []string{user})
		if err != nil {
			t.Fatal(err)
		}
		return on[user]
	}

	// Bob's phone connects to b, twice (a reconnect overlapping the old
	// connection); his laptop to b; his tablet never. The tracker counts
	// the user's first connection on a node with Connected, its others'
	// devices with DeviceConnected.
	if became, err := b.Connected(ctx, "bob", "phone"); err != nil || !became {
		t.Fatalf("first connection: became %v, %v", became, err)
	}
	for _, dev := range []string{"phone", "laptop"} {
		if err := b.DeviceConnected(ctx, "bob", dev); err != nil {
			t.Fatal(err)
		}
	}
	if !online(a, "phone") || !online(a, "laptop") || online(a, "tablet") {
		t.Fatal("node a sees the wrong devices online")
	}
	// One of the phone's connections closes: still online.
	if err := b.DeviceDisconnected(ctx, "bob", "phone"); err != nil {
		t.Fatal(err)
	}
	if !online(a, "phone") {
		t.Fatal("the phone's other connection is open")
	}
	if err := b.DeviceDisconnected(ctx, "bob", "phone"); err != nil {
		t.Fatal(err)
	}
	if online(a, "phone") || !online(a, "laptop") || !userOnline(a, "bob") {
		t.Fatal("the phone is gone, the laptop and so bob are not")
	}
	// A user's last connection on a node takes its device with it.
	if _, err := a.Connected(ctx, "dave", "pad"); err != nil {
		t.Fatal(err)
	}
	if went, err := a.Disconnected(ctx, "dave", "pad"); err != nil || !went || online(b, "pad") {
		t.Fatalf("dave went %v (%v), pad online %v", went, err, online(b, "pad"))
	}

	// Node b dies: no clean leave, its lease expires. The laptop is
	// offline as soon as it does, before any janitor.
	if err := rdb.Del(ctx, prefix+"alive:b").Err(); err != nil {
		t.Fatal(err)
	}
	if online(a, "laptop") || userOnline(a, "bob") {
		t.Fatal("a dead node keeps a device online")
	}
	var gone []string
	a.Handle(nil, func(u string, _ time.Time) { gone = append(gone, u) })
	a.janitor(ctx)
	if len(gone) != 1 || gone[0] != "bob" {
		t.Fatalf("janitor reported %v", gone)
	}
	for _, k := range []string{"dev:laptop", "dev:phone", "node-devices:b", "node-users:b", "pres:bob"} {
		if n, _ := rdb.Exists(ctx, prefix+k).Result(); n != 0 {
			t.Errorf("%s outlived the dead node", k)
		}
	}

	// A node whose lease was taken for gone (Redis restarted, say)
	// registers its devices again at its next heartbeat.
	if _, err := a.Connected(ctx, "carol", "desk"); err != nil {
		t.Fatal(err)
	}
	// Redis loses this test's keys (only this test's: the server is shared).
	if keys, _ := rdb.Keys(ctx, prefix+"*").Result(); len(keys) > 0 {
		rdb.Del(ctx, keys...)
	}
	if online(b, "desk") {
		t.Fatal("desk online with its keys gone")
	}
	a.beat(ctx)
	if !online(b, "desk") || !userOnline(b, "carol") {
		t.Fatal("the heartbeat did not register the device again")
	}
}
