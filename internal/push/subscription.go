package push

import (
	"context"
	"crypto/ecdh"
	"errors"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/fault"
	"github.com/parleychat/parley/internal/outbound"
)

// ErrBadSubscription refuses a subscription: an endpoint that is not
// https or names a private address, a p256dh that is not an uncompressed
// P-256 point, an auth that is not 16 bytes.
var ErrBadSubscription = errors.New("invalid push subscription")

// ErrDisabled: this node sends no pushes, Web Push or relay (a cluster
// node without a shared --vapid-private-key).
var ErrDisabled = errors.New("push is not configured on this server")

// Subscription is a device's push subscription, as its browser made it.
type Subscription struct {
	DeviceID string
	UserID   string
	Endpoint string
	// P256DH and Auth are base64url, as the browser's PushSubscription
	// JSON has them; Validate checked them.
	P256DH    string
	Auth      string
	CreatedAt time.Time
}

// keys decodes the subscription's keys.
func (s Subscription) keys() (p256dh, auth []byte, err error) {
	if p256dh, err = decodeB64(s.P256DH); err != nil {
		return nil, nil, fault.New(ErrBadSubscription, "keys.p256dh is not base64url")
	}
	if _, err := ecdh.P256().NewPublicKey(p256dh); err != nil || len(p256dh) != 65 {
		return nil, nil, fault.New(ErrBadSubscription, "keys.p256dh is not an uncompressed P-256 point")
	}
	if auth, err = decodeB64(s.Auth); err != nil || len(auth) != 16 {
		return nil, nil, fault.New(ErrBadSubscription, "keys.auth must be 16 bytes, base64url")
	}
	return p256dh, auth, nil
}

// decodeB64 takes base64url with or without padding: browsers send it
// without, some tools with.
func decodeB64(s string) ([]byte, error) {
	return b64.DecodeString(strings.TrimRight(s, "="))
}

// checkEndpoint refuses an endpoint the server will not POST to, as a
// bad subscription with the guard's reason.
func checkEndpoint(ctx context.Context, g outbound.Guard, endpoint string) error {
	if err := g.Check(ctx, endpoint); err != nil {
		msg, _ := fault.Message(err, outbound.ErrRefused)
		return fault.New(ErrBadSubscription, "endpoint "+msg)
	}
	return nil
}
