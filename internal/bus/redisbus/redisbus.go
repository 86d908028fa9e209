// Package redisbus carries per-user events between Parley nodes over Redis
// pub/sub. Each node subscribes to the channel of every user with a
// connection on it, so a publish reaches exactly the nodes that need it and
// nothing has to track which node holds whom: a node that dies takes its
// subscriptions with it.
//
// Events are delivered to local connections directly and published for
// the other nodes; a node ignores its own publications. So a node that
// loses Redis keeps serving its local users; what degrades meanwhile is
// live delivery across nodes (recipients elsewhere get those messages from
// their offline queue on reconnect, or through the gap-fill on their next
// live message), and go-redis resubscribes once Redis is back.
//
// Beside the users' channels every node subscribes to one more, shared by
// all: "invalidate", which carries which cache entries a node's change
// made stale (bus.Invalidation). It rides the same pub/sub connection as
// the users' events, so an invalidation published before an event (a
// sign-out before its revocation) is applied before that event on every
// node.
package redisbus

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parleychat/parley/internal/bus"
)

// Local delivers events to this node's connections (the gateway hub).
type Local interface {
	Publish(ctx context.Context, userIDs []string, ev *bus.Event)
}

// Bus is one node's end of the Redis bus.
type Bus struct {
	rdb    *redis.Client
	local  Local
	node   string
	prefix string
	log    *slog.Logger
	subs   *Subscriptions

	// apply and reset, set by HandleInvalidations before Run, receive other
	// nodes' invalidations, and the (re)connects after which some may have
	// been lost.
	apply func(bus.Invalidation)
	reset func()

	// Observer, if set before Run, counts Redis failures and reconnects.
	Observer Observer
}

// New returns a bus for node; prefix namespaces every channel (tests and
// co-hosted deployments use distinct prefixes).
func New(rdb *redis.Client, local Local, node, prefix string, log *slog.Logger) *Bus {
	b := &Bus{rdb: rdb, local: local, node: node, prefix: prefix, log: log, subs: NewSubscriptions(rdb, log)}
	b.subs.Add(context.Background(), b.invalidations())
	return b
}

var _ bus.Invalidator = (*Bus)(nil)

// Observer counts what goes wrong between a node and Redis, for metrics;
// the presence directory (redisdir) reports to one too.
type Observer interface {
	// RedisError is one command or pipeline that failed, by what it was
	// for: bus_publish, bus_invalidate, presence_heartbeat,
	// presence_reregister.
	RedisError(op string)
	// RedisReconnected is a connection to Redis made again after it was
	// lost, by component: bus (its subscriptions made again: events
	// published meanwhile were lost) or presence (the node's lease had
	// expired and its connections were registered again).
	RedisReconnected(component string)
}

func (b *Bus) failed(op string) {
	if b.Observer != nil {
		b.Observer.RedisError(op)
	}
}

// HandleInvalidations sets where other nodes' invalidations go (apply),
// and what to do each time the subscription to them is (re)made (reset):
// whatever was published meanwhile is lost, so every cache must be
// emptied. Call it before Run.
func (b *Bus) HandleInvalidations(apply func(bus.Invalidation), reset func()) {
	b.apply, b.reset = apply, reset
}

// invalidations is the channel every node listens to for invalidations.
func (b *Bus) invalidations() string { return b.prefix + "invalidate" }

// wireInvalidation is an invalidation on the wire between nodes.
type wireInvalidation struct {
	Node  string    `json:"n"`
	Cache bus.Cache `json:"c"`
	IDs   []string  `json:"ids"`
}

// Invalidate tells every other node to drop cache entries. It returns
// once Redis has taken the message, so that what the caller publishes
// next (a revocation) reaches each node after it; a failure is logged:
// the entries age out.
func (b *Bus) Invalidate(ctx context.Context, inv bus.Invalidation) {
	payload, err := json.Marshal(wireInvalidation{Node: b.node, Cache: inv.Cache, IDs: inv.IDs})
	if err != nil {
		b.log.Error("bus encode invalidation", "err", err)
		return
	}
	if err := b.rdb.Publish(context.WithoutCancel(ctx), b.invalidations(), payload).Err(); err != nil {
		b.log.Warn("bus publish invalidation", "cache", inv.Cache, "ids", len(inv.IDs), "err", err)
		b.failed("bus_invalidate")
	}
}

// invalidated applies another node's invalidation.
func (b *Bus) invalidated(payload string) {
	var w wireInvalidation
	if err := json.Unmarshal([]byte(payload), &w); err != nil {
		b.log.Warn("bus decode invalidation", "err", err)
		return
	}
	if w.Node == b.node || b.apply == nil {
		return // dropped here before it was published
	}
	b.apply(bus.Invalidation{Cache: w.Cache, IDs: w.IDs})
}

// envelope is an event on the wire between nodes.
type envelope struct {
	Node           string            `json:"n"`
	Kind           bus.Kind          `json:"k"`
	ConversationID string            `json:"c,omitempty"`
	Seq            int64             `json:"s,omitempty"`
	SenderDevice   string            `json:"d,omitempty"`
	ReceiptID      int64             `json:"r,omitempty"`
	UpdateID       int64             `json:"u,omitempty"`
	Reason         string            `json:"why,omitempty"`
	Chooser        string            `json:"cu,omitempty"`
	Chosen         string            `json:"cv,omitempty"`
	Frames         []json.RawMessage `json:"fs,omitempty"`
	// Committed is Event.Committed in Unix nanoseconds: a node measures
	// the delivery lag of messages committed on another (as good as the
	// nodes' clocks agree).
	Committed int64 `json:"t,omitempty"`
}

func (b *Bus) channel(user string) string { return b.prefix + "u:" + user }

// Publish delivers ev to the users' local connections at once, then to
// the other nodes through Redis. A Redis failure is logged, not returned:
// the events are already stored (messages, receipts) or ephemeral.
func (b *Bus) Publish(ctx context.Context, userIDs []string, ev *bus.Event) {
	b.local.Publish(ctx, userIDs, ev)
	env := envelope{Node: b.node, Kind: ev.Kind, ConversationID: ev.ConversationID, Seq: ev.Seq,
		SenderDevice: ev.SenderDevice, ReceiptID: ev.ReceiptID, UpdateID: ev.UpdateID, Reason: ev.Reason,
		Chooser: ev.Chooser, Chosen: ev.Chosen}
	if !ev.Committed.IsZero() {
		env.Committed = ev.Committed.UnixNano()
	}
	// Encoded here, once for every node: the others deliver these bytes.
	for _, f := range ev.Frames() {
		env.Frames = append(env.Frames, json.RawMessage(f))
	}
	payload, err := json.Marshal(env)
	if err != nil {
		b.log.Error("bus encode", "err", err)
		return
	}
	pipe := b.rdb.Pipeline()
	for _, u := range userIDs {
		pipe.Publish(ctx, b.channel(u), payload)
	}
	if _, err := pipe.Exec(context.WithoutCancel(ctx)); err != nil {
		b.log.Warn("bus publish", "users", len(userIDs), "err", err)
		b.failed("bus_publish")
	}
}

// Watch subscribes to userID's channel (reference-counted: call it once
// per local connection, and Unwatch when it closes).
func (b *Bus) Watch(ctx context.Context, userID string) { b.subs.Add(ctx, b.channel(userID)) }

// Unwatch drops one reference to userID's channel.
func (b *Bus) Unwatch(ctx context.Context, userID string) { b.subs.Remove(ctx, b.channel(userID)) }

// Run delivers events from other nodes to local connections until ctx
// ends.
func (b *Bus) Run(ctx context.Context) error {
	// With the subscriptions' confirmations: after a reconnect go-redis
	// subscribes again, and the confirmation of the invalidations'
	// channel is the only sign that some may have been missed.
	ch := b.subs.ChannelWithSubscriptions()
	subscribed := false // to the invalidations, once: later ones are reconnects
	for {
		select {
		case <-ctx.Done():
			return b.subs.Close()
		case msg, ok := <-ch:
			if !ok {
				return nil
			}
			var m *redis.Message
			switch msg := msg.(type) {
			case *redis.Subscription:
				if msg.Kind == "subscribe" && msg.Channel == b.invalidations() && b.reset != nil {
					b.log.Info("bus subscribed to invalidations: caches emptied")
					b.reset()
					if subscribed && b.Observer != nil {
						b.Observer.RedisReconnected("bus")
					}
					subscribed = true
				}
				continue
			case *redis.Message:
				m = msg
			default:
				continue
			}
			if m.Channel == b.invalidations() {
				b.invalidated(m.Payload)
				continue
			}
			var env envelope
			if err := json.Unmarshal([]byte(m.Payload), &env); err != nil {
				b.log.Warn("bus decode", "err", err)
				continue
			}
			if env.Node == b.node {
				continue // delivered locally when published
			}
			user := m.Channel[len(b.prefix)+len("u:"):]
			ev := &bus.Event{
				Kind: env.Kind, ConversationID: env.ConversationID, Seq: env.Seq,
				SenderDevice: env.SenderDevice, ReceiptID: env.ReceiptID, UpdateID: env.UpdateID, Reason: env.Reason,
				Chooser: env.Chooser, Chosen: env.Chosen,
			}
			if env.Committed != 0 {
				ev.Committed = time.Unix(0, env.Committed)
			}
			frames := make([][]byte, len(env.Frames))
			for i, f := range env.Frames {
				frames[i] = f
			}
			b.local.Publish(ctx, []string{user}, ev.WithFrames(frames))
		}
	}
}

// Ping checks Redis, for readiness.
func (b *Bus) Ping(ctx context.Context) error {
	if err := b.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}
