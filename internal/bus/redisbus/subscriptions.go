package redisbus

import (
	"context"
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Subscriptions reference-counts a node's Redis channels: the first Add of
// a channel subscribes, the last Remove unsubscribes. go-redis keeps the
// set and subscribes again by itself after a reconnect.
type Subscriptions struct {
	ps  *redis.PubSub
	log *slog.Logger

	mu   sync.Mutex
	refs map[string]int
}

// NewSubscriptions opens a pub/sub connection on rdb.
func NewSubscriptions(rdb *redis.Client, log *slog.Logger) *Subscriptions {
	return &Subscriptions{ps: rdb.Subscribe(context.Background()), log: log, refs: map[string]int{}}
}

// Add takes a reference to channel.
func (s *Subscriptions) Add(ctx context.Context, channel string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refs[channel]++
	if s.refs[channel] == 1 {
		s.send(ctx, "subscribe", channel)
	}
}

// Remove drops a reference to channel.
func (s *Subscriptions) Remove(ctx context.Context, channel string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refs[channel]--
	if s.refs[channel] > 0 {
		return
	}
	delete(s.refs, channel)
	s.send(context.WithoutCancel(ctx), "unsubscribe", channel)
}

// send writes a (un)subscribe while s.mu is held, so that Redis gets them
// in the order the references changed. Sent after the lock, an unsubscribe
// of a closing connection once overtook the subscribe of one opening
// meanwhile, and left a connected user with no subscription (found by
// outside testing; TestSubscriptionsSurviveACloseRacingAnOpen). A lock per
// channel would buy nothing: go-redis serializes every command of one
// PubSub connection, and each only writes, without waiting for Redis.
// go-redis records the change even when the write fails, and applies it
// when it reconnects.
func (s *Subscriptions) send(ctx context.Context, verb, channel string) {
	var err error
	if verb == "subscribe" {
		err = s.ps.Subscribe(ctx, channel)
	} else {
		err = s.ps.Unsubscribe(ctx, channel)
	}
	if err != nil {
		s.log.Warn("redis "+verb, "channel", channel, "err", err)
	}
}

// Channel delivers the messages of the subscribed channels.
func (s *Subscriptions) Channel() <-chan *redis.Message {
	return s.ps.Channel(redis.WithChannelSize(4096))
}

// ChannelWithSubscriptions is Channel with the confirmations of
// (re)subscriptions, as *redis.Subscription, among the *redis.Message
// values. One connection uses either this or Channel, never both.
func (s *Subscriptions) ChannelWithSubscriptions() <-chan any {
	return s.ps.ChannelWithSubscriptions(redis.WithChannelSize(4096))
}

// Close closes the pub/sub connection.
func (s *Subscriptions) Close() error { return s.ps.Close() }
