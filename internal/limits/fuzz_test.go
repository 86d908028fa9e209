package limits

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// FuzzClientIP sends a request from an arbitrary peer with arbitrary
// X-Forwarded-For headers through Proxies.Handler. A peer that is not a
// trusted proxy keeps its own address, whatever it claims. Through a
// proxy, the client is an entry of the chain with only trusted proxies,
// all well formed, right of it, and it is either not a proxy itself or
// the last entry that can be read (the chain's start, or garbage left of
// it); an unreadable last hop leaves the peer's address.
func FuzzClientIP(f *testing.F) {
	for _, s := range [][3]string{
		{"10.0.0.1:443", "203.0.113.9", ""},
		{"10.0.0.1:443", "1.2.3.4, 203.0.113.9, 10.0.0.2", ""},
		{"10.0.0.1:443", "1.2.3.4", "203.0.113.9, 10.1.1.1"},
		{"10.0.0.1:443", "garbage, 10.0.0.3", ""},
		{"10.0.0.1:443", "10.0.0.4", "10.0.0.5"},
		{"[fd00::1]:80", "[2001:db8::1]:1234", ""},
		{"198.51.100.7:5000", "10.0.0.9", ""},
		{"192.0.2.7:1", "::ffff:203.0.113.1", ""},
		{"not an addr", "1.1.1.1", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	ps, err := ParseProxies("10.0.0.0/8, 192.0.2.7, fd00::/8")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, remote, xff1, xff2 string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		var hops []string
		for _, h := range []string{xff1, xff2} {
			if h != "" {
				r.Header.Add("X-Forwarded-For", h)
				hops = append(hops, strings.Split(h, ",")...)
			}
		}
		var got string
		ps.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r.RemoteAddr })).ServeHTTP(httptest.NewRecorder(), r)

		if !ps.ContainsAddr(remote) {
			if got != remote {
				t.Fatalf("untrusted peer %q became %q", remote, got)
			}
			return
		}
		// Right to left: k is the entry the client must be.
		k := -1
		for i := len(hops) - 1; i >= 0; i-- {
			ip, ok := parseAddr(strings.TrimSpace(hops[i]))
			if !ok {
				break
			}
			k = i
			if !ps.Contains(ip) {
				break
			}
		}
		if k < 0 {
			if got != remote {
				t.Fatalf("peer %q with no readable last hop in %q became %q", remote, hops, got)
			}
			return
		}
		want, _ := parseAddr(strings.TrimSpace(hops[k]))
		if got != net.JoinHostPort(want.String(), "0") {
			t.Fatalf("peer %q, chain %q: client %q, want %s", remote, hops, got, want)
		}
		if a, err := netip.ParseAddrPort(got); err != nil || a.Addr() != want {
			t.Fatalf("client address %q does not parse back to %s", got, want)
		}
	})
}
