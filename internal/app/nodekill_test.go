package app_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
)

// TestClusterNodeKill runs two `parley serve` nodes on PostgreSQL and
// Redis, kills one with SIGKILL under load, and checks that its users
// reconnect to the other with no acknowledged message lost or duplicated,
// and that a user who was only on the dead node goes offline within the
// node lease.
func TestClusterNodeKill(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg := apptest.Postgres(t)
	redisURL, prefix := apptest.Redis(t)
	node := func(name string) (*child, string) {
		addr := freeAddr(t)
		return startChild(t, t.TempDir(), addr, "--store", pg, "--redis", redisURL, "--redis-prefix", prefix,
			"--node-id", name, "--node-lease", "2s", "--presence-grace", "0s"), "http://" + addr
	}
	nodeA, urlA := node("node-a")
	_, urlB := node("node-b")

	reg := func(name string) (client.Session, string) {
		c := client.New(urlB)
		u, err := c.Register(ctx, name, "node kill test", name)
		if err != nil {
			t.Fatal(err)
		}
		s, err := c.Login(ctx, name, "node kill test")
		if err != nil {
			t.Fatal(err)
		}
		return s, u.UserID
	}
	bobSess, bobID := reg("bob")
	carolSess, carolID := reg("carol")
	bob := client.New(urlB).WithToken(bobSess.Token)

	// bob (on B) receives and acks everything, recording what he got.
	bc, err := bob.Dial(ctx, client.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer bc.Close()
	var gotMu sync.Mutex
	got := map[string]int{}
	go func() {
		for f := range bc.Frames() {
			if f.Type != "message" {
				continue
			}
			gotMu.Lock()
			got[f.Content]++
			gotMu.Unlock()
			_ = bc.Ack(ctx, f.MessageID)
		}
	}()
	// carol is connected only to A.
	cc, err := client.New(urlA).WithToken(carolSess.Token).Dial(ctx, client.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Abort()
	if _, err := bob.CreateDirect(ctx, carolID); err != nil {
		t.Fatal(err)
	}

	const senders = 4
	type sender struct {
		sess client.Session
		conv string
	}
	var ss []sender
	for i := range senders {
		s, _ := reg(fmt.Sprint("sender", i))
		conv, err := client.New(urlA).WithToken(s.Token).CreateDirect(ctx, bobID)
		if err != nil {
			t.Fatal(err)
		}
		ss = append(ss, sender{s, conv.ConversationID})
	}
	var mu sync.Mutex
	acked := map[string]client.Ack{}
	tried := map[string]int{} // key -> sender
	enough := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for i, s := range ss {
		conn, err := client.New(urlA).WithToken(s.sess.Token).Dial(ctx, client.DialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for w := range 3 {
			wg.Go(func() {
				for j := 0; ; j++ {
					key := fmt.Sprintf("s%d-w%d-%d", i, w, j)
					mu.Lock()
					tried[key] = i
					mu.Unlock()
					ack, err := conn.SendMessage(ctx, text(key, s.conv, key))
					if err != nil {
						return // node A died under us
					}
					mu.Lock()
					acked[key] = ack
					n := len(acked)
					mu.Unlock()
					if n >= 300 {
						once.Do(func() { close(enough) })
					}
				}
			})
		}
	}
	select {
	case <-enough:
	case <-ctx.Done():
		t.Fatal("never reached 300 acks")
	}
	killedAt := time.Now()
	nodeA.kill()
	wg.Wait()
	t.Logf("node A killed with %d acked of %d tried", len(acked), len(tried))

	// The senders reconnect to node B and resend everything unconfirmed
	// (and, to prove idempotency, everything confirmed too).
	for i, s := range ss {
		conn, err := client.New(urlB).WithToken(s.sess.Token).Dial(ctx, client.DialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for key, who := range tried {
			if who != i {
				continue
			}
			ack, err := conn.SendMessage(ctx, text(key, s.conv, key))
			if err != nil {
				t.Fatalf("resend %s on B: %v", key, err)
			}
			if first, ok := acked[key]; ok && (first.MessageID != ack.MessageID || first.SequenceNumber != ack.SequenceNumber) {
				t.Fatalf("%s acked as %+v on A and %+v on B", key, first, ack)
			}
		}
		conn.Close()
	}
	// bob, on B all along, has every message exactly once.
	deadline := time.Now().Add(30 * time.Second)
	for {
		gotMu.Lock()
		n := len(got)
		gotMu.Unlock()
		if n == len(tried) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bob has %d of %d messages", n, len(tried))
		}
		time.Sleep(50 * time.Millisecond)
	}
	gotMu.Lock()
	for key, n := range got {
		if n != 1 {
			t.Fatalf("%s delivered %d times", key, n)
		}
	}
	gotMu.Unlock()
	// carol, who was only on the dead node, is offline within the lease
	// and a janitor tick, with her last seen at the node's last heartbeat.
	for {
		p, err := bob.Presence(ctx, carolID)
		if err != nil {
			t.Fatal(err)
		}
		if p.Status == "offline" && p.LastSeen != nil {
			t.Logf("carol offline %s after the kill", time.Since(killedAt).Round(time.Millisecond))
			if *p.LastSeen > killedAt.UnixMilli() {
				t.Fatalf("last seen %d is after the kill", *p.LastSeen)
			}
			break
		}
		if time.Since(killedAt) > 15*time.Second {
			t.Fatalf("carol still %+v %s after her node died", p, time.Since(killedAt))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
