package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/parleychat/parley/wire"
)

// SessionInfo is one signed-in device of the caller.
type SessionInfo = wire.SessionInfo

// LoginDevice is Login with a name for the new session, shown in the
// user's devices list (at most 64 printable characters; empty: the
// server uses the User-Agent).
func (c *Client) LoginDevice(ctx context.Context, username, password, deviceName string) (Session, error) {
	var s Session
	err := c.do(ctx, http.MethodPost, "/api/v1/sessions",
		wire.LoginRequest{Username: username, Password: password, DeviceName: deviceName}, &s)
	return s, err
}

// Sessions lists the caller's signed-in devices, most recently active
// first; Current marks this client's own.
func (c *Client) Sessions(ctx context.Context) ([]SessionInfo, error) {
	var l wire.SessionList
	err := c.do(ctx, http.MethodGet, "/api/v1/sessions", nil, &l)
	return l.Sessions, err
}

// EndSession signs out one of the caller's devices: its token stops
// working and its connections close with 4001. A session that is not the
// caller's is a not_found error.
func (c *Client) EndSession(ctx context.Context, sessionID string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/sessions/"+url.PathEscape(sessionID), nil, nil)
}

// EndOtherSessions signs out every device of the caller but this one.
func (c *Client) EndOtherSessions(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/sessions", nil, nil)
}

// ChangePassword replaces the caller's password, given the current one,
// and signs out every other device; this one stays signed in.
func (c *Client) ChangePassword(ctx context.Context, current, next string) error {
	return c.do(ctx, http.MethodPut, "/api/v1/users/me/password",
		wire.ChangePasswordRequest{CurrentPassword: current, NewPassword: next}, nil)
}
