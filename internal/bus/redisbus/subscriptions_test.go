package redisbus_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/bus/redisbus"
)

// TestSubscriptionsSurviveACloseRacingAnOpen: one connection of a user
// closes while another opens on the same node. Whatever the interleaving,
// one reference remains, so the node must stay subscribed; an unsubscribe
// sent after the racing subscribe would leave the user connected and deaf.
func TestSubscriptionsSurviveACloseRacingAnOpen(t *testing.T) {
	url, prefix := apptest.Redis(t)
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opt.Protocol = 2
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	subs := redisbus.NewSubscriptions(rdb, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer subs.Close()
	go func() { // drain, as the bus does
		for range subs.Channel() {
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	const rounds = 300
	channels := make([]string, rounds)
	for i := range channels {
		channels[i] = fmt.Sprintf("%sraced:%d", prefix, i)
		subs.Add(ctx, channels[i]) // the connection that will close
	}
	// Each channel sees closes and opens in turn, each pair racing.
	var wg sync.WaitGroup
	for _, ch := range channels {
		wg.Go(func() {
			for range 10 {
				var pair sync.WaitGroup
				pair.Go(func() { subs.Remove(ctx, ch) })
				pair.Go(func() { subs.Add(ctx, ch) })
				pair.Wait()
			}
		})
	}
	wg.Wait()

	// Subscribe and unsubscribe are sent without waiting for Redis: poll
	// until it has applied what it was sent.
	for {
		n, err := rdb.PubSubNumSub(ctx, channels...).Result()
		if err != nil {
			t.Fatal(err)
		}
		var deaf []string
		for _, ch := range channels {
			if n[ch] != 1 {
				deaf = append(deaf, ch)
			}
		}
		if len(deaf) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d of %d channels left unsubscribed with a reference held, e.g. %s", len(deaf), rounds, deaf[0])
		case <-time.After(20 * time.Millisecond):
		}
	}
}
