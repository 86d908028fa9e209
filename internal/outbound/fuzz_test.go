package outbound

import (
	"context"
	"errors"
	"net/netip"
	"net/url"
	"slices"
	"testing"
)

// publicResolver resolves every name to one public address; asked for an
// IP literal, which Check must read itself, it fails the test.
type publicResolver struct{ t *testing.T }

func (r publicResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if _, err := netip.ParseAddr(host); err == nil {
		r.t.Fatalf("Check asked the resolver for the literal %q", host)
	}
	return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
}

// notPublic are the special-purpose ranges of RFC 6890 that no URL of a
// user's may reach, listed apart from Public so that the target checks it.
var notPublic = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
		"192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4",
		"::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8",
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

// FuzzGuardCheck checks Guard.Check on arbitrary URL strings, every name
// resolving to a public address: with no Insecure list it allows only an
// absolute https URL without user info whose host, if an IP literal, is
// public; with one, a listed host (or host:port) may also be http and
// private, and nothing else is let through. A refusal is ErrRefused.
func FuzzGuardCheck(f *testing.F) {
	for _, s := range []string{
		"https://fcm.googleapis.com/fcm/send/abc",
		"https://93.184.216.34/x",
		"http://example.com/",
		"https://127.0.0.1/",
		"https://[::1]:8443/",
		"https://[::ffff:10.0.0.1]/",
		"https://[fe80::1%25eth0]/",
		"https://100.64.0.1/",
		"https://0.0.0.0/",
		"https://user:pw@example.com/",
		"https://localhost:8080/",
		"http://localhost:8080/hook",
		"ftp://localhost/",
		"//example.com/",
		"https:///x",
		"HTTPS://EXAMPLE.COM/",
	} {
		f.Add(s)
	}
	insecure := []string{"localhost:8080", "127.0.0.2"}
	f.Fuzz(func(t *testing.T, raw string) {
		ctx := context.Background()
		strict := Guard{Resolver: publicResolver{t}}
		lenient := Guard{Resolver: publicResolver{t}, Insecure: insecure}
		for _, g := range []Guard{strict, lenient} {
			err := g.Check(ctx, raw)
			if err != nil {
				if !errors.Is(err, ErrRefused) || !Refused(err) {
					t.Fatalf("refusal is not ErrRefused: %v", err)
				}
				continue
			}
			u, perr := url.Parse(raw)
			if perr != nil || u.Host == "" || u.User != nil {
				t.Fatalf("allowed %q: not an absolute URL without user info", raw)
			}
			if g.Insecure != nil && (slices.Contains(insecure, u.Host) || slices.Contains(insecure, u.Hostname())) {
				if u.Scheme != "https" && u.Scheme != "http" {
					t.Fatalf("allowed listed host with scheme %q", u.Scheme)
				}
				continue
			}
			if u.Scheme != "https" {
				t.Fatalf("allowed %q: scheme %q", raw, u.Scheme)
			}
			if a, err := netip.ParseAddr(u.Hostname()); err == nil {
				for _, p := range notPublic {
					if p.Contains(a.Unmap().WithZone("")) {
						t.Fatalf("allowed %q: %s is in %s", raw, a, p)
					}
				}
			}
		}
	})
}
