package push

import (
	"context"
	"crypto/ecdh"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/parleychat/parley/internal/fault"
)

// ErrBadSubscription refuses a subscription: an endpoint that is not
// https or names a private address, a p256dh that is not an uncompressed
// P-256 point, an auth that is not 16 bytes.
var ErrBadSubscription = errors.New("invalid push subscription")

// ErrDisabled: this node sends no pushes (a cluster node without a shared
// --vapid-private-key).
var ErrDisabled = errors.New("web push is not configured on this server")

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

// Resolver looks hosts up; net.DefaultResolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// endpointChecker decides which endpoints the server will POST to. An
// endpoint is the client's choice, so unchecked it would make the server
// probe its own network for anyone with an account (SSRF): only https to
// public addresses, except the hosts the operator allowed.
type endpointChecker struct {
	resolver Resolver
	// insecure are host or host:port entries that may be http and
	// private (--push-allow-insecure-host, for tests and self-hosted
	// push services).
	insecure []string
}

func (c endpointChecker) allowedInsecure(u *url.URL) bool {
	return slices.Contains(c.insecure, u.Host) || slices.Contains(c.insecure, u.Hostname())
}

// check reports why endpoint may not be used, or nil. It is called when
// a device subscribes and again before each push, since a name may
// resolve elsewhere later.
func (c endpointChecker) check(ctx context.Context, endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || u.User != nil {
		return fault.New(ErrBadSubscription, "endpoint is not an absolute URL")
	}
	if c.allowedInsecure(u) {
		if u.Scheme != "https" && u.Scheme != "http" {
			return fault.New(ErrBadSubscription, "endpoint must be https")
		}
		return nil
	}
	if u.Scheme != "https" {
		return fault.New(ErrBadSubscription, "endpoint must be https")
	}
	host := u.Hostname()
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else if addrs, err = c.resolver.LookupNetIP(ctx, "ip", host); err != nil || len(addrs) == 0 {
		return fault.Newf(ErrBadSubscription, "endpoint host %q does not resolve", host)
	}
	for _, a := range addrs {
		if !public(a) {
			return fault.Newf(ErrBadSubscription, "endpoint host %q is not a public address", host)
		}
	}
	return nil
}

// public says whether a is a globally routable unicast address.
func public(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsGlobalUnicast() && !a.IsPrivate() && !a.IsLoopback() && !a.IsLinkLocalUnicast() &&
		!cgnat.Contains(a) && !a.IsUnspecified()
}

// cgnat is the shared address space of RFC 6598, private in all but name.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// dial connects to a push service. A name that resolved to a public
// address when checked may resolve to a private one now (DNS rebinding),
// so the address actually dialled is checked again, unless the operator
// allowed the host.
func (c endpointChecker) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	host, _, _ := net.SplitHostPort(addr)
	if !slices.Contains(c.insecure, addr) && !slices.Contains(c.insecure, host) {
		d.ControlContext = func(_ context.Context, _, address string, _ syscall.RawConn) error {
			h, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			a, err := netip.ParseAddr(h)
			if err != nil {
				return err
			}
			if !public(a) {
				return fmt.Errorf("%w: %s is not a public address", errPrivateAddr, a)
			}
			return nil
		}
	}
	return d.DialContext(ctx, network, addr)
}

// errPrivateAddr: an endpoint's host resolved to a private address when
// dialled.
var errPrivateAddr = errors.New("refusing to connect")
