package api

import (
	"context"
	"net/http"

	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/wire"
)

// Bots manages the caller's bot accounts (docs/PROTOCOL.md, "Bots").
type Bots interface {
	Create(ctx context.Context, caller identity.Device, username, displayName string) (identity.BotKey, error)
	List(ctx context.Context, caller identity.Device) ([]identity.Bot, error)
	RotateKey(ctx context.Context, caller identity.Device, botID string) (identity.BotKey, error)
	RevokeKey(ctx context.Context, caller identity.Device, botID string) error
}

// BotAccounts deletes a bot as an account is deleted (internal/accounts).
type BotAccounts interface {
	DeleteBot(ctx context.Context, caller identity.Device, botID string) error
}

// RegisterBots adds the /api/v1/bots routes to mux. A bot calls them
// with its key like anyone, and is refused creation (forbidden) and
// finds no bot of its own to manage.
func (a *API) RegisterBots(mux *http.ServeMux, bots Bots, acc BotAccounts) {
	mux.Handle("POST /api/v1/bots", a.auth(func(w http.ResponseWriter, r *http.Request) {
		var req wire.CreateBotRequest
		if err := decode(w, r, &req); err != nil {
			a.fail(w, r, err)
			return
		}
		k, err := bots.Create(r.Context(), session(r.Context()), req.Username, req.DisplayName)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, toBotKey(k))
	}))
	mux.Handle("GET /api/v1/bots", a.auth(func(w http.ResponseWriter, r *http.Request) {
		list, err := bots.List(r.Context(), session(r.Context()))
		if err != nil {
			a.fail(w, r, err)
			return
		}
		out := make([]wire.Bot, len(list))
		for i, b := range list {
			out[i] = wire.Bot{BotID: b.ID, UserID: b.ID, Username: b.Username, DisplayName: b.DisplayName, CreatedAt: clock.Millis(b.CreatedAt)}
			if !b.KeyCreatedAt.IsZero() {
				at := clock.Millis(b.KeyCreatedAt)
				out[i].KeyCreatedAt = &at
			}
		}
		writeJSON(w, http.StatusOK, wire.BotList{Bots: out})
	}))
	mux.Handle("POST /api/v1/bots/{id}/key", a.auth(func(w http.ResponseWriter, r *http.Request) {
		k, err := bots.RotateKey(r.Context(), session(r.Context()), r.PathValue("id"))
		if err != nil {
			a.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, toBotKey(k))
	}))
	mux.Handle("DELETE /api/v1/bots/{id}/key", a.auth(func(w http.ResponseWriter, r *http.Request) {
		a.noContent(w, r, bots.RevokeKey(r.Context(), session(r.Context()), r.PathValue("id")))
	}))
	mux.Handle("DELETE /api/v1/bots/{id}", a.auth(func(w http.ResponseWriter, r *http.Request) {
		a.noContent(w, r, acc.DeleteBot(r.Context(), session(r.Context()), r.PathValue("id")))
	}))
}

// toBotKey: a bot's id is its user id; both are named so that a client
// need not know it.
func toBotKey(k identity.BotKey) wire.BotKey {
	return wire.BotKey{BotID: k.BotID, UserID: k.BotID, APIKey: k.APIKey}
}
