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

// deleteAccount is a password attempt like a login (passwordAttempt): a
// stolen session cannot guess its way to destroying the account faster.
func (a *API) deleteAccount(w http.ResponseWriter, r *http.Request, acc Accounts) {
	var req wire.DeleteAccountRequest
	a.passwordAttempt(w, r, &req, func(caller identity.Device) error {
		return acc.Delete(r.Context(), caller, req.Password)
	})
}
