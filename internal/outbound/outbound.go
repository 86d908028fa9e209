// Package outbound is how the server makes HTTP requests to URLs its users
// chose: push endpoints, push relays, bots' webhooks. Unchecked, such a URL
// would make the server probe its own network for anyone with an account
// (SSRF), so a Guard allows only https to public addresses, except the
// hosts the operator listed, and checks again the address it dials.
package outbound

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"syscall"
	"time"

	"github.com/parleychat/parley/internal/fault"
)

// ErrRefused: a URL the server will not send to. Its message says why, in
// words a client can show (fault.Message).
var ErrRefused = errors.New("url refused")

// ErrPrivateAddr: a host that resolved to a private address when dialled.
var ErrPrivateAddr = errors.New("refusing to connect")

// Resolver looks hosts up; net.DefaultResolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Guard decides which URLs the server sends to. Its zero value allows
// https to public addresses only, resolved with net.DefaultResolver.
type Guard struct {
	Resolver Resolver
	// Insecure are host or host:port entries that may be http and
	// private: tests and self-hosted services (the operator's list).
	Insecure []string
}

func (g Guard) allowedInsecure(hostport, host string) bool {
	return slices.Contains(g.Insecure, hostport) || slices.Contains(g.Insecure, host)
}

// Check reports why rawURL may not be used, or nil. It is called when a
// client registers a URL and again before each request, since a name may
// resolve elsewhere later.
func (g Guard) Check(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || u.User != nil {
		return fault.New(ErrRefused, "is not an absolute URL")
	}
	if g.allowedInsecure(u.Host, u.Hostname()) {
		if u.Scheme != "https" && u.Scheme != "http" {
			return fault.New(ErrRefused, "must be https")
		}
		return nil
	}
	if u.Scheme != "https" {
		return fault.New(ErrRefused, "must be https")
	}
	host := u.Hostname()
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		r := g.Resolver
		if r == nil {
			r = net.DefaultResolver
		}
		if addrs, err = r.LookupNetIP(ctx, "ip", host); err != nil || len(addrs) == 0 {
			return fault.Newf(ErrRefused, "host %q does not resolve", host)
		}
	}
	for _, a := range addrs {
		if !Public(a) {
			return fault.Newf(ErrRefused, "host %q is not a public address", host)
		}
	}
	return nil
}

// Public says whether a is a globally routable unicast address.
func Public(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsGlobalUnicast() && !a.IsPrivate() && !a.IsLoopback() && !a.IsLinkLocalUnicast() &&
		!cgnat.Contains(a) && !thisNetwork.Contains(a) && !reserved.Contains(a) && !a.IsUnspecified()
}

// cgnat is the shared address space of RFC 6598, private in all but name;
// thisNetwork (RFC 6890, "this host on this network", never a
// destination) and reserved (the former class E) are no public host's
// either, though IsGlobalUnicast says yes.
var (
	cgnat       = netip.MustParsePrefix("100.64.0.0/10")
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")
	reserved    = netip.MustParsePrefix("240.0.0.0/4")
)

// Dial connects to addr. A name that resolved to a public address when
// checked may resolve to a private one now (DNS rebinding), so the address
// actually dialled is checked again, unless the operator allowed the host.
func (g Guard) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	host, _, _ := net.SplitHostPort(addr)
	if !g.allowedInsecure(addr, host) {
		d.ControlContext = func(_ context.Context, _, address string, _ syscall.RawConn) error {
			h, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			a, err := netip.ParseAddr(h)
			if err != nil {
				return err
			}
			if !Public(a) {
				return fmt.Errorf("%w: %s is not a public address", ErrPrivateAddr, a)
			}
			return nil
		}
	}
	return d.DialContext(ctx, network, addr)
}

// Client returns an HTTP client that dials through g, follows no
// redirects (a redirect would let the URL's owner send the server
// anywhere) and uses no proxy (the checks must see the real address).
// timeout bounds one request; conns bounds idle connections per host.
func (g Guard) Client(timeout time.Duration, conns int) *http.Client {
	return &http.Client{
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         g.Dial,
			ForceAttemptHTTP2:   true,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: timeout,
		},
	}
}

// Refused says whether err means the URL itself is refused (now or when
// dialled): another try would fail the same way.
func Refused(err error) bool {
	return errors.Is(err, ErrRefused) || errors.Is(err, ErrPrivateAddr)
}
