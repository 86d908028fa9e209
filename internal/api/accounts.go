package api

import (
	"context"
	"net/http"

	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/wire"
)

// Accounts deletes accounts.
type Accounts interface {
	Delete(ctx context.Context, caller identity.Device, password string) error
}

// RegisterAccounts adds DELETE /api/v1/users/me to mux.
func (a *API) RegisterAccounts(mux *http.ServeMux, acc Accounts) {
	mux.Handle("DELETE /api/v1/users/me", a.auth(func(w http.ResponseWriter, r *http.Request) {
		a.deleteAccount(w, r, acc)
	}))
}

// deleteAccount is a password attempt like a login (limited per address,
// counted toward the account's failed-login backoff): a stolen session
// cannot guess its way to destroying the account any faster.
func (a *API) deleteAccount(w http.ResponseWriter, r *http.Request, acc Accounts) {
	if err := a.allowAttempt(r); err != nil {
		a.fail(w, r, err)
		return
	}
	var req wire.DeleteAccountRequest
	if err := decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	caller := session(r.Context())
	u, err := a.ids.User(r.Context(), caller.UserID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.allowLogin(u.Username); err != nil {
		a.fail(w, r, err)
		return
	}
	err = acc.Delete(r.Context(), caller, req.Password)
	a.loginDone(r, u.Username, err)
	a.noContent(w, r, err)
}
