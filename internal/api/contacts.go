package api

import (
	"context"
	"net/http"

	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/contacts"
	"github.com/parleychat/parley/wire"
)

// Contacts adds, removes and lists the caller's contacts.
type Contacts interface {
	Add(ctx context.Context, userID, contactID string) error
	Remove(ctx context.Context, userID, contactID string) error
	List(ctx context.Context, userID string) ([]contacts.Contact, error)
}

// RegisterContacts adds the contacts routes to mux.
func (a *API) RegisterContacts(mux *http.ServeMux, c Contacts) {
	mux.Handle("GET /api/v1/users/me/contacts", a.auth(func(w http.ResponseWriter, r *http.Request) {
		list, err := c.List(r.Context(), session(r.Context()).UserID)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		out := make([]wire.Contact, len(list))
		for i, k := range list {
			out[i] = wire.Contact{UserID: k.UserID, Username: k.Username, DisplayName: k.DisplayName}
			if !k.AddedAt.IsZero() {
				at := clock.Millis(k.AddedAt)
				out[i].AddedAt = &at
			}
		}
		writeJSON(w, http.StatusOK, wire.ContactList{Contacts: out})
	}))
	mux.Handle("PUT /api/v1/users/me/contacts/{user_id}", a.auth(func(w http.ResponseWriter, r *http.Request) {
		a.noContent(w, r, c.Add(r.Context(), session(r.Context()).UserID, r.PathValue("user_id")))
	}))
	mux.Handle("DELETE /api/v1/users/me/contacts/{user_id}", a.auth(func(w http.ResponseWriter, r *http.Request) {
		a.noContent(w, r, c.Remove(r.Context(), session(r.Context()).UserID, r.PathValue("user_id")))
	}))
}
