package api

import (
	"context"
	"net/http"

	"github.com/parleychat/parley/internal/push"
	"github.com/parleychat/parley/wire"
)

// Push keeps devices' Web Push subscriptions and push relays.
type Push interface {
	PublicKey() (string, error)
	Subscribe(ctx context.Context, s push.Subscription) error
	Unsubscribe(ctx context.Context, deviceID string) error
	RegisterRelay(ctx context.Context, r push.Relay) error
	UnregisterRelay(ctx context.Context, deviceID string) error
}

// RegisterPush adds the push routes to mux: Web Push and relays.
func (a *API) RegisterPush(mux *http.ServeMux, p Push) {
	mux.Handle("GET /api/v1/push/vapid", a.auth(func(w http.ResponseWriter, r *http.Request) {
		k, err := p.PublicKey()
		if err != nil {
			a.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, wire.VAPIDKey{PublicKey: k})
	}))
	mux.Handle("POST /api/v1/push/subscriptions", a.auth(func(w http.ResponseWriter, r *http.Request) {
		var req wire.PushSubscription
		if err := decode(w, r, &req); err != nil {
			a.fail(w, r, err)
			return
		}
		d := session(r.Context())
		err := p.Subscribe(r.Context(), push.Subscription{
			DeviceID: d.ID, UserID: d.UserID, Endpoint: req.Endpoint, P256DH: req.Keys.P256DH, Auth: req.Keys.Auth,
		})
		if err != nil {
			a.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	mux.Handle("DELETE /api/v1/push/subscriptions", a.auth(func(w http.ResponseWriter, r *http.Request) {
		a.noContent(w, r, p.Unsubscribe(r.Context(), session(r.Context()).ID))
	}))
	mux.Handle("POST /api/v1/push/relays", a.auth(func(w http.ResponseWriter, r *http.Request) {
		var req wire.PushRelay
		if err := decode(w, r, &req); err != nil {
			a.fail(w, r, err)
			return
		}
		d := session(r.Context())
		err := p.RegisterRelay(r.Context(), push.Relay{
			DeviceID: d.ID, UserID: d.UserID, URL: req.URL, AppID: req.AppID, Pushkey: req.Pushkey,
		})
		if err != nil {
			a.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, struct{}{})
	}))
	mux.Handle("DELETE /api/v1/push/relays", a.auth(func(w http.ResponseWriter, r *http.Request) {
		a.noContent(w, r, p.UnregisterRelay(r.Context(), session(r.Context()).ID))
	}))
}
