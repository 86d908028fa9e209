package limits

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func TestRatesTakeAndRetryAfter(t *testing.T) {
	r := NewRates(0.5, 2, 100) // a token every 2 s, 2 at once
	for i := range 2 {
		if ok, _ := r.Take("a", t0); !ok {
			t.Fatalf("take %d of the burst refused", i+1)
		}
	}
	ok, retry := r.Take("a", t0)
	if ok || retry != 2*time.Second {
		t.Fatalf("past the burst: ok=%v retry=%s, want refused for 2s", ok, retry)
	}
	if ok, _ := r.Take("b", t0); !ok {
		t.Fatal("another key shares the first one's bucket")
	}
	if ok, retry := r.Take("a", t0.Add(1500*time.Millisecond)); ok || retry != 500*time.Millisecond {
		t.Fatalf("1.5 s later: ok=%v retry=%s, want refused for 500ms", ok, retry)
	}
	if ok, _ := r.Take("a", t0.Add(2*time.Second)); !ok {
		t.Fatal("a refill was refused")
	}
	if (*Rates)(nil) != NewRates(0, 5, 10) {
		t.Fatal("rate 0 must turn the limit off")
	}
	if ok, _ := (*Rates)(nil).Take("a", t0); !ok {
		t.Fatal("an off limit refused")
	}
}

func TestRatesTableIsBounded(t *testing.T) {
	r := NewRates(1, 1, 10)
	// Keys that stay busy: the table never passes its bound.
	for i := range 1000 {
		r.Take(fmt.Sprint(i), t0)
		if n := r.Keys(); n > 10 {
			t.Fatalf("%d keys remembered, bound 10", n)
		}
	}
	// Keys whose buckets have refilled are forgotten as the table is used,
	// without waiting for the bound.
	later := t0.Add(time.Hour)
	for range 10 {
		r.Take("fresh", later)
	}
	if n := r.Keys(); n > 1 {
		t.Fatalf("%d keys remembered after every other bucket refilled, want 1", n)
	}
}

func TestFailuresBackoff(t *testing.T) {
	f := NewFailures(3, time.Minute, 15*time.Minute, 100)
	now := t0
	for i := range 2 {
		if wait := f.Fail("acct", now); wait != 0 {
			t.Fatalf("failure %d imposed %s", i+1, wait)
		}
	}
	if ok, _ := f.Check("acct", now); !ok {
		t.Fatal("refused under the limit")
	}
	// The limit-th failure starts the backoff; each further one doubles it.
	for i, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute} {
		if wait := f.Fail("acct", now); wait != want {
			t.Fatalf("failure %d: wait %s, want %s", i+3, wait, want)
		}
		if ok, retry := f.Check("acct", now.Add(time.Second)); ok || retry != want-time.Second {
			t.Fatalf("failure %d: check ok=%v retry=%s, want refused for %s", i+3, ok, retry, want-time.Second)
		}
		now = now.Add(want)
		if ok, _ := f.Check("acct", now); !ok {
			t.Fatalf("failure %d: still refused once the wait is over: a backoff, not a lock", i+3)
		}
	}
	if ok, _ := f.Check("other", now); !ok {
		t.Fatal("another account is refused")
	}
	// A success forgets the failures.
	f.Succeed("acct")
	for i := range 2 {
		if wait := f.Fail("acct", now); wait != 0 {
			t.Fatalf("after a success, failure %d imposed %s", i+1, wait)
		}
	}
	// So does a whole window without one...
	now = now.Add(15 * time.Minute)
	if wait := f.Fail("acct", now); wait != 0 {
		t.Fatalf("a failure a window after the last imposed %s", wait)
	}
	// ...counted from the end of a wait, not from the failure before it.
	f.Fail("acct", now)
	if wait := f.Fail("acct", now); wait != time.Minute {
		t.Fatalf("third failure: wait %s, want 1m", wait)
	}
	now = now.Add(14 * time.Minute)
	if wait := f.Fail("acct", now); wait != 2*time.Minute {
		t.Fatalf("a failure 13 min after a 1 min wait: wait %s, want 2m", wait)
	}
	if NewFailures(0, time.Minute, time.Hour, 10) != nil {
		t.Fatal("limit 0 must turn the backoff off")
	}
}

func TestFailuresTableIsBounded(t *testing.T) {
	f := NewFailures(1, time.Minute, 15*time.Minute, 50)
	for i := range 1000 {
		f.Fail(fmt.Sprint("user", i), t0)
	}
	f.mu.Lock()
	n := f.t.len()
	f.mu.Unlock()
	if n > 50 {
		t.Fatalf("%d accounts remembered, bound 50", n)
	}
}

func TestConnsCaps(t *testing.T) {
	c := NewConns(ConnCaps{Total: 4, PerUser: 2, PerIP: 3})
	r1, _ := c.Open("u1", "ip1")
	r2, _ := c.Open("u1", "ip1")
	if _, refused := c.Open("u1", "ip2"); refused != CapPerUser {
		t.Fatalf("third of a user: refused %q, want %q", refused, CapPerUser)
	}
	r3, _ := c.Open("u2", "ip1")
	if _, refused := c.Open("u3", "ip1"); refused != CapPerIP {
		t.Fatalf("fourth of an address: refused %q, want %q", refused, CapPerIP)
	}
	r4, _ := c.Open("u3", "ip2")
	if _, refused := c.Open("u4", "ip3"); refused != CapTotal {
		t.Fatalf("fifth in all: refused %q, want %q", refused, CapTotal)
	}
	r1()
	r1() // idempotent
	if _, refused := c.Open("u1", "ip3"); refused != "" {
		t.Fatalf("after a close: refused %q", refused)
	}
	r2()
	r3()
	r4()
	if _, refused := NewConns(ConnCaps{}).Open("u", "ip"); refused != "" {
		t.Fatal("zero caps must be off")
	}
}

func TestIPKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7:5555":                 "192.0.2.7",
		"192.0.2.7":                      "192.0.2.7",
		"[::ffff:192.0.2.7]:80":          "192.0.2.7",
		"[2001:db8:1:2:3:4:5:6]:443":     "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff:ffff:ffff:ff": "2001:db8:1:2::/64",
		"garbage":                        "garbage",
	} {
		if got := IPKey(in); got != want {
			t.Errorf("IPKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseProxies(t *testing.T) {
	ps, err := ParseProxies(" 10.0.0.0/8, 192.0.2.7 ,2001:db8::/32,")
	if err != nil {
		t.Fatal(err)
	}
	if got := ps.String(); got != "10.0.0.0/8,192.0.2.7/32,2001:db8::/32" {
		t.Fatalf("parsed %q", got)
	}
	if !ps.ContainsAddr("10.1.2.3:80") || !ps.ContainsAddr("[::ffff:192.0.2.7]:1") || ps.ContainsAddr("192.0.2.8:1") {
		t.Fatal("Contains is wrong")
	}
	if _, err := ParseProxies("10.0.0.0/33"); err == nil {
		t.Fatal("a bad prefix was accepted")
	}
}

func TestProxiesHandler(t *testing.T) {
	ps, err := ParseProxies("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	var got string
	h := ps.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = IPKey(r.RemoteAddr) }))
	cases := []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"direct client, header ignored", "192.0.2.1:1000", []string{"198.51.100.9"}, "192.0.2.1"},
		{"through the proxy", "10.0.0.5:1000", []string{"198.51.100.9"}, "198.51.100.9"},
		{"spoofed entries left of the client", "10.0.0.5:1000", []string{"1.2.3.4, 198.51.100.9"}, "198.51.100.9"},
		{"a chain of trusted proxies", "10.0.0.5:1000", []string{"198.51.100.9, 10.1.1.1", "10.2.2.2"}, "198.51.100.9"},
		{"garbage stops the walk", "10.0.0.5:1000", []string{"1.2.3.4, nonsense, 198.51.100.9"}, "198.51.100.9"},
		{"no header", "10.0.0.5:1000", nil, "10.0.0.5"},
	}
	for _, tc := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		if got != tc.want {
			t.Errorf("%s: client %q, want %q", tc.name, got, tc.want)
		}
	}
	if Proxies(nil).Handler(h) == nil {
		t.Fatal("no proxies must return the handler itself")
	}
}

func TestConnsForFileLimit(t *testing.T) {
	for limit, want := range map[int64]int{
		0: 0, -1: 0, // unknown: no cap
		1024:    960,     // 64 kept
		20000:   19000,   // 5 % kept
		1 << 40: 1 << 20, // effectively unlimited: bounded anyway
		10:      1,
	} {
		if got := ConnsForFileLimit(limit); got != want {
			t.Errorf("ConnsForFileLimit(%d) = %d, want %d", limit, got, want)
		}
	}
	for total, want := range map[int]int{12: 6, 100: 50, 960: 96, 19000: 1900} {
		if got := HTTPHeadroom(total); got != want {
			t.Errorf("HTTPHeadroom(%d) = %d, want %d", total, got, want)
		}
	}
}
