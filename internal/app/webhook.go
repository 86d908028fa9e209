package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/conversations"
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
	if p.hooks == nil || (ev.Kind != bus.KindMessage && ev.Kind != bus.KindUpdate) {
		return
	}
	p.hooks.WakeAny(userIDs)
	// The system message that adds or removes a member is published to
	// the others: the member it names is woken too, since a bot's webhook
	// is told it (system messages are few; parsing one is cheap).
	if m := ev.Message; m != nil && m.MessageType == conversations.MessageTypeSystem {
		var note struct {
			UserID string `json:"user_id"`
		}
		if json.Unmarshal([]byte(m.Content), &note) == nil && note.UserID != "" {
			p.hooks.Wake(note.UserID)
		}
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
