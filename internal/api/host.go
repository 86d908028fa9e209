package api

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"

	"github.com/parleychat/parley/wire"
)

// ErrUnknownHost refuses to build media URLs on a Host header that is not
// this server's address. Copying any Host into the answer let a request
// (or a proxy passing one along) point a client's media links elsewhere.
var ErrUnknownHost = wire.Invalid("the Host header is not this server's address: set --public-url to the URL clients reach it at")

// SetListenAddr tells the API the address it is served on: without
// --public-url, media URLs use the Host a client reached only when it
// names that address (an IP literal of it, or localhost, on its port).
func (a *API) SetListenAddr(addr net.Addr) {
	if ap, err := netip.ParseAddrPort(addr.String()); err == nil {
		a.listen.Store(&ap)
	}
}

// absolute turns a server-relative URL (the local blob store's, when
// --public-url is unset) into one on the host the client reached, if that
// host is this server; other URLs pass unchanged.
func (a *API) absolute(r *http.Request, u string) (string, error) {
	if u == "" || u[0] != '/' {
		return u, nil
	}
	if !a.ownHost(r.Host, r.TLS != nil) {
		return "", ErrUnknownHost
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + u, nil
}

func (a *API) ownHost(hostport string, tls bool) bool {
	listen := a.listen.Load()
	if listen == nil {
		return false
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil { // no port: the scheme's default
		host, port = hostport, "80"
		if tls {
			port = "443"
		}
	}
	if p, err := strconv.Atoi(port); err != nil || p != int(listen.Port()) {
		return false
	}
	if host == "localhost" {
		return listen.Addr().IsLoopback() || listen.Addr().IsUnspecified()
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false // a name: only --public-url can vouch for it
	}
	return listen.Addr().IsUnspecified() || ip.Unmap() == listen.Addr().Unmap()
}
