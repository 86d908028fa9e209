package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/internal/webhook"
	"github.com/parleychat/parley/wire"
)

// Webhooks sets, reads and removes bots' webhooks and lists their
// deliveries (internal/webhook).
type Webhooks interface {
	Set(ctx context.Context, botID, url string) (webhook.Hook, error)
	Get(ctx context.Context, botID string) (webhook.Hook, error)
	Remove(ctx context.Context, botID string) error
	Deliveries(ctx context.Context, botID, status string, limit int) ([]webhook.Delivery, error)
}

// BotOwners says whether a bot is the caller's: anyone else's is not found.
type BotOwners interface {
	Owned(ctx context.Context, caller identity.Device, botID string) error
}

// maxDeliveries bounds one deliveries page.
const maxDeliveries = 100

// RegisterWebhooks adds the /api/v1/bots/{id}/webhook and
// /api/v1/bots/{id}/deliveries routes (docs/PROTOCOL.md, "Webhooks"): the
// bot's owner's alone.
func (a *API) RegisterWebhooks(mux *http.ServeMux, hooks Webhooks, owners BotOwners) {
	owned := func(h func(w http.ResponseWriter, r *http.Request, botID string)) http.Handler {
		return a.auth(func(w http.ResponseWriter, r *http.Request) {
			botID := r.PathValue("id")
			if err := owners.Owned(r.Context(), session(r.Context()), botID); err != nil {
				a.fail(w, r, err)
				return
			}
			h(w, r, botID)
		})
	}
	mux.Handle("PUT /api/v1/bots/{id}/webhook", owned(func(w http.ResponseWriter, r *http.Request, botID string) {
		var req wire.SetWebhookRequest
		if err := decode(w, r, &req); err != nil {
			a.fail(w, r, err)
			return
		}
		h, err := hooks.Set(r.Context(), botID, req.URL)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, wire.Webhook{URL: h.URL, Secret: h.Secret, CreatedAt: clock.Millis(h.CreatedAt)})
	}))
	mux.Handle("GET /api/v1/bots/{id}/webhook", owned(func(w http.ResponseWriter, r *http.Request, botID string) {
		h, err := hooks.Get(r.Context(), botID)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, wire.Webhook{URL: h.URL, CreatedAt: clock.Millis(h.CreatedAt)})
	}))
	mux.Handle("DELETE /api/v1/bots/{id}/webhook", owned(func(w http.ResponseWriter, r *http.Request, botID string) {
		a.noContent(w, r, hooks.Remove(r.Context(), botID))
	}))
	mux.Handle("GET /api/v1/bots/{id}/deliveries", owned(func(w http.ResponseWriter, r *http.Request, botID string) {
		q := r.URL.Query()
		status := q.Get("status")
		switch status {
		case "", webhook.StatusRetrying, webhook.StatusDelivered, webhook.StatusFailed:
		default:
			a.fail(w, r, wire.Invalid("status must be retrying, delivered or failed"))
			return
		}
		limit := maxDeliveries
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxDeliveries {
				a.fail(w, r, wire.Invalid(fmt.Sprintf("limit must be 1 to %d", maxDeliveries)))
				return
			}
			limit = n
		}
		list, err := hooks.Deliveries(r.Context(), botID, status, limit)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		out := wire.WebhookDeliveries{Deliveries: make([]wire.WebhookDelivery, len(list))}
		for i, d := range list {
			out.Deliveries[i] = wire.WebhookDelivery{EventID: d.EventID, ConversationID: d.ConversationID, Type: d.Type,
				Status: d.Status, Attempts: d.Attempts, FirstAttemptAt: clock.Millis(d.FirstAttemptAt),
				LastAttemptAt: clock.Millis(d.LastAttemptAt), LastStatus: d.LastStatus, LastError: d.LastError}
		}
		writeJSON(w, http.StatusOK, out)
	}))
}
