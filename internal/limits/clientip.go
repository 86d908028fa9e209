package limits

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// IPKey is the key a client address is limited by: the IPv4 address, or
// the /64 prefix of an IPv6 address (one subscriber usually holds a whole
// /64, so per-address limits would be no limit at all). addr is an IP or
// an "ip:port"; what does not parse is its own key.
func IPKey(addr string) string {
	ip, ok := parseAddr(addr)
	if !ok {
		return addr
	}
	if ip.Is4() {
		return ip.String()
	}
	p, _ := ip.Prefix(64)
	return p.String()
}

func parseAddr(addr string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return ap.Addr().Unmap(), true
	}
	if ip, err := netip.ParseAddr(addr); err == nil {
		return ip.Unmap(), true
	}
	return netip.Addr{}, false
}

// Proxies is a set of trusted reverse proxies (CIDR prefixes).
type Proxies []netip.Prefix

// ParseProxies parses a comma-separated list of CIDR prefixes or single
// addresses ("10.0.0.0/8, 192.0.2.7").
func ParseProxies(s string) (Proxies, error) {
	var ps Proxies
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			ps = append(ps, p.Masked())
			continue
		}
		ip, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR prefix nor an IP address", f)
		}
		ps = append(ps, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
	}
	return ps, nil
}

// String lists the prefixes as ParseProxies reads them.
func (ps Proxies) String() string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// Contains reports whether ip is one of the proxies.
func (ps Proxies) Contains(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ContainsAddr is Contains for an "ip:port" or an IP.
func (ps Proxies) ContainsAddr(addr string) bool {
	ip, ok := parseAddr(addr)
	return ok && ps.Contains(ip)
}

// Handler makes the client address of a request that came through one of
// the proxies the address its X-Forwarded-For names: the right-most entry
// that is not itself a trusted proxy (entries further left are written by
// the client and prove nothing). It rewrites r.RemoteAddr, so every limit
// and log downstream sees the client. Requests from other peers keep
// their TCP peer address, whatever they claim. With no proxies it returns
// next itself.
func (ps Proxies) Handler(next http.Handler) http.Handler {
	if len(ps) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ip, ok := ps.clientIP(r); ok {
			r2 := *r
			r2.RemoteAddr = net.JoinHostPort(ip.String(), "0")
			r = &r2
		}
		next.ServeHTTP(w, r)
	})
}

func (ps Proxies) clientIP(r *http.Request) (netip.Addr, bool) {
	if !ps.ContainsAddr(r.RemoteAddr) {
		return netip.Addr{}, false
	}
	hops := r.Header.Values("X-Forwarded-For")
	var found netip.Addr
	for i := len(hops) - 1; i >= 0; i-- {
		fields := strings.Split(hops[i], ",")
		for j := len(fields) - 1; j >= 0; j-- {
			ip, ok := parseAddr(strings.TrimSpace(fields[j]))
			if !ok {
				// Garbage in the chain: what lies left of it cannot be
				// trusted, so the last good hop is the client.
				return found, found.IsValid()
			}
			found = ip
			if !ps.Contains(ip) {
				return ip, true
			}
		}
	}
	return found, found.IsValid()
}
