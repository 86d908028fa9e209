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
	s.refs[channel]++
	first := s.refs[channel] == 1
	s.mu.Unlock()
	if first {
		if err := s.ps.Subscribe(ctx, channel); err != nil {
			s.log.Warn("redis subscribe", "channel", channel, "err", err)
		}
	}
}

// Remove drops a reference to channel.
func (s *Subscriptions) Remove(ctx context.Context, channel string) {
	s.mu.Lock()
	s.refs[channel]--
	last := s.refs[channel] <= 0
	if last {
		delete(s.refs, channel)
	}
	s.mu.Unlock()
	if last {
		if err := s.ps.Unsubscribe(context.WithoutCancel(ctx), channel); err != nil {
			s.log.Warn("redis unsubscribe", "channel", channel, "err", err)
		}
	}
}

// Channel delivers the messages of the subscribed channels.
func (s *Subscriptions) Channel() <-chan *redis.Message {
	return s.ps.Channel(redis.WithChannelSize(4096))
}

// Close closes the pub/sub connection.
func (s *Subscriptions) Close() error { return s.ps.Close() }
