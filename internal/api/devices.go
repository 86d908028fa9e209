package api

import (
	"context"
	"net/http"

	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/wire"
)

// Devices is the part of the identity service that logs devices in and
// manages them.
type Devices interface {
	// LoginDevice logs in a new device named deviceName
	// (identity.DeviceName).
	LoginDevice(ctx context.Context, username, password, deviceName string) (identity.Session, error)
	Sessions(ctx context.Context, caller identity.Device) ([]identity.Device, error)
	EndSession(ctx context.Context, caller identity.Device, id string) error
	EndOtherSessions(ctx context.Context, caller identity.Device) error
	ChangePassword(ctx context.Context, caller identity.Device, current, next string) error
}

// listSessions answers the caller's signed-in devices.
func (a *API) listSessions(w http.ResponseWriter, r *http.Request) {
	caller := session(r.Context())
	list, err := a.ids.Sessions(r.Context(), caller)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]wire.SessionInfo, len(list))
	for i, d := range list {
		out[i] = wire.SessionInfo{
			SessionID: d.ID, DeviceName: d.Name, CreatedAt: clock.Millis(d.CreatedAt),
			LastActiveAt: clock.Millis(d.LastUsedAt), Current: d.ID == caller.ID,
		}
	}
	writeJSON(w, http.StatusOK, wire.SessionList{Sessions: out})
}

// endSession signs out one of the caller's devices; another user's is
// not found, as one that does not exist.
func (a *API) endSession(w http.ResponseWriter, r *http.Request) {
	a.noContent(w, r, a.ids.EndSession(r.Context(), session(r.Context()), r.PathValue("session_id")))
}

// endOtherSessions signs out every device of the caller but this one.
func (a *API) endOtherSessions(w http.ResponseWriter, r *http.Request) {
	a.noContent(w, r, a.ids.EndOtherSessions(r.Context(), session(r.Context())))
}

// changePassword replaces the caller's password, given the current one.
func (a *API) changePassword(w http.ResponseWriter, r *http.Request) {
	var req wire.ChangePasswordRequest
	a.passwordAttempt(w, r, &req, func(caller identity.Device) error {
		return a.ids.ChangePassword(r.Context(), caller, req.CurrentPassword, req.NewPassword)
	})
}

// passwordAttempt decodes req and runs do, a change its body's password
// must allow, as a login attempt: limited per address and, by the
// account's username, counted toward the failed-login backoff. Guessing
// through a stolen session is no cheaper than through the login.
func (a *API) passwordAttempt(w http.ResponseWriter, r *http.Request, req any, do func(caller identity.Device) error) {
	if err := a.allowAttempt(r); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := decode(w, r, req); err != nil {
		a.fail(w, r, err)
		return
	}
	caller := session(r.Context())
	u, err := a.ids.User(r.Context(), caller.UserID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	// Refused before it counts as an attempt: a bot's key must not back
	// off anyone's logins by asking for what it cannot have.
	if u.BotOwnerID != "" {
		a.fail(w, r, identity.ErrBotNoPassword)
		return
	}
	if err := a.allowLogin(u.Username); err != nil {
		a.fail(w, r, err)
		return
	}
	err = do(caller)
	a.loginDone(r, u.Username, u.ID, err)
	a.noContent(w, r, err)
}
