package outbound

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"
)

// fakeResolver answers from a table, as DNS would.
type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func addrs(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, a := range s {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}

// TestCheck: only https to public addresses, a name counting as
// private if any of its addresses is; the operator's hosts are exempt.
func TestCheck(t *testing.T) {
	g := Guard{
		Resolver: fakeResolver{
			"fcm.googleapis.com": addrs("142.250.74.42", "2a00:1450:4001:82b::200a"),
			"rebind.example":     addrs("93.184.216.34", "10.0.0.1"),
			"internal.example":   addrs("192.168.1.10"),
			"cgnat.example":      addrs("100.64.3.4"),
			"mapped.example":     addrs("::ffff:127.0.0.1"),
		},
		Insecure: []string{"push.test:8080", "127.0.0.1"},
	}
	for _, tc := range []struct {
		endpoint string
		ok       bool
	}{
		{"https://fcm.googleapis.com/fcm/send/abc", true},
		{"https://203.0.113.9/wpush", true},
		{"http://fcm.googleapis.com/fcm/send/abc", false},
		{"https://rebind.example/x", false},
		{"https://internal.example/x", false},
		{"https://cgnat.example/x", false},
		{"https://mapped.example/x", false},
		{"https://unknown.example/x", false},
		{"https://[::1]/x", false},
		{"https://169.254.169.254/latest/meta-data", false},
		{"https://user:pw@fcm.googleapis.com/x", false},
		{"ftp://fcm.googleapis.com/x", false},
		{"http://push.test:8080/x", true},
		{"http://push.test:9090/x", false},
		{"http://127.0.0.1:4567/x", true},
		{"file:///etc/passwd", false},
	} {
		err := g.Check(context.Background(), tc.endpoint)
		if (err == nil) != tc.ok {
			t.Errorf("check(%q) = %v, want ok=%v", tc.endpoint, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrRefused) {
			t.Errorf("check(%q) = %v, not ErrRefused", tc.endpoint, err)
		}
	}
}

// TestDialRefusesPrivate: whatever a name resolves to when dialled, a
// private address is refused unless the operator allowed the host.
func TestDialRefusesPrivate(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	strict := Guard{}
	if _, err := strict.Dial(context.Background(), "tcp", u.Host); !errors.Is(err, ErrPrivateAddr) {
		t.Fatalf("dial %s = %v, want it refused", u.Host, err)
	}
	allowed := Guard{Insecure: []string{u.Host}}
	conn, err := allowed.Dial(context.Background(), "tcp", u.Host)
	if err != nil {
		t.Fatalf("dial an allowed host: %v", err)
	}
	_ = conn.Close()
}
