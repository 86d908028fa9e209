package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/webhook"
)

// webhookWaker wakes the webhooks of the bots an event reaches: a map
// lookup per recipient when no bot has one.
type webhookWaker struct {
	publisher
	hooks *webhook.Service
}

func (p *webhookWaker) Publish(ctx context.Context, userIDs []string, ev *bus.Event) {
	p.publisher.Publish(ctx, userIDs, ev)
	if p.hooks != nil && (ev.Kind == bus.KindMessage || ev.Kind == bus.KindUpdate) {
		p.hooks.WakeAny(userIDs)
	}
}

// webhookNode names this node in webhook leases. A single node on its
// own data dir keeps one name across restarts, so that it takes its
// leases back at once; nodes sharing a store need distinct names: the
// configured --node-id, else a random one (a restarted node then waits
// for its old leases to lapse).
func webhookNode(cfg config.Config) string {
	switch {
	case cfg.NodeID != "":
		return cfg.NodeID
	case cfg.Store == "":
		return "local"
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "node-" + hex.EncodeToString(b)
}

// WebhooksSettled waits until no webhook delivery run is going (tests).
func (a *App) WebhooksSettled(ctx context.Context) error { return a.hooks.Settled(ctx) }
