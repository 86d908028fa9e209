package client

import (
	"context"
	"net/http"

	"github.com/parleychat/parley/wire"
)

// PushSubscription is a browser's PushSubscription JSON.
type PushSubscription = wire.PushSubscription

// PushRelay is a native app's push relay registration.
type PushRelay = wire.PushRelay

// VAPIDKey returns the server's Web Push application server key, base64url
// of the uncompressed P-256 point.
func (c *Client) VAPIDKey(ctx context.Context) (string, error) {
	var k wire.VAPIDKey
	err := c.do(ctx, http.MethodGet, "/api/v1/push/vapid", nil, &k)
	return k.PublicKey, err
}

// SubscribePush makes s this device's push subscription, replacing any:
// the server pushes to it while the device has no connection.
func (c *Client) SubscribePush(ctx context.Context, s PushSubscription) error {
	return c.do(ctx, http.MethodPost, "/api/v1/push/subscriptions", s, nil)
}

// UnsubscribePush removes this device's push subscription.
func (c *Client) UnsubscribePush(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/push/subscriptions", nil, nil)
}

// RegisterPushRelay makes r this device's push relay, replacing any: while
// the device has no connection, the server POSTs a signed notice (no
// content) to r.URL for the relay to pass on to FCM or APNs with r.Pushkey.
func (c *Client) RegisterPushRelay(ctx context.Context, r PushRelay) error {
	return c.do(ctx, http.MethodPost, "/api/v1/push/relays", r, nil)
}

// UnregisterPushRelay removes this device's push relay; none is no error.
func (c *Client) UnregisterPushRelay(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/push/relays", nil, nil)
}
