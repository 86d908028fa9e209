package local

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/blob"
	"github.com/parleychat/parley/internal/clock"
)

// FuzzSignedURL signs a GET or PUT URL, mutates it (one byte replaced,
// inserted or deleted) and sends it to the handler. The true URL is
// served, and refused once expired; a mutated one is refused with 403
// unless every part the signature covers (method, key, exp, size, ct,
// sig) reads exactly as signed, as when an unsigned parameter is added.
func FuzzSignedURL(f *testing.F) {
	f.Add("media/abc/original", "image/jpeg", uint8(3), false, uint8(0), uint16(20), byte('x'))
	f.Add("media/abc/original", "", uint8(0), true, uint8(1), uint16(60), byte('0'))
	f.Add("a", "text/plain; charset=utf-8", uint8(7), false, uint8(2), uint16(7), byte(0))
	f.Add("u/x.y-z_1", "video/mp4", uint8(255), true, uint8(0), uint16(40), byte('&'))
	f.Add("k", "", uint8(1), false, uint8(1), uint16(200), byte('%'))
	start := time.Unix(1_790_000_000, 0)
	clk := clock.NewFake(start)
	s, err := Open(f.TempDir(), "", clk)
	if err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	const ttl = time.Minute
	serve := func(method, target string, body []byte) int {
		r, err := http.NewRequest(method, "http://parley.test"+target, bytes.NewReader(body))
		if err != nil {
			return -1 // not a URL a client could send
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	n := 0
	f.Fuzz(func(t *testing.T, key, ct string, size uint8, put bool, op uint8, pos uint16, val byte) {
		if blob.ValidKey(key) != nil {
			key = "media/k"
		}
		// Each run its own directory: "a" then "a/b" would collide.
		n++
		key = "run" + strconv.Itoa(n) + "/" + key
		clk.Set(start)
		ctx := context.Background()
		method, body := http.MethodGet, []byte(nil)
		var signed string
		if put {
			method, body = http.MethodPut, bytes.Repeat([]byte{'b'}, int(size))
			signed, err = s.PresignPut(ctx, key, int64(size), ttl)
		} else {
			if err := s.Put(ctx, key, bytes.NewReader([]byte("data")), 4, ""); err != nil {
				t.Fatal(err)
			}
			signed, err = s.PresignGet(ctx, key, ct, ttl)
		}
		if err != nil {
			t.Fatal(err)
		}
		if code := serve(method, signed, body); code != http.StatusOK {
			t.Fatalf("%s %s: %d, want 200", method, signed, code)
		}

		mutated := []byte(signed)
		i := int(pos) % (len(mutated) + 1)
		switch op % 3 {
		case 0:
			if i < len(mutated) {
				mutated[i] = val
			}
		case 1:
			mutated = append(mutated[:i], append([]byte{val}, mutated[i:]...)...)
		case 2:
			if i < len(mutated) {
				mutated = append(mutated[:i], mutated[i+1:]...)
			}
		}
		for _, m := range []string{method, otherMethod(method)} {
			code := serve(m, string(mutated), body)
			if code == -1 || code == http.StatusForbidden || code == http.StatusMethodNotAllowed {
				continue
			}
			if !sameSignedParts(t, signed, string(mutated), method, m) {
				t.Fatalf("%s %q answered %d: signed as %s %q", m, mutated, code, method, signed)
			}
		}

		clk.Set(start.Add(ttl + 2*time.Second))
		if code := serve(method, signed, body); code != http.StatusForbidden {
			t.Fatalf("expired %s %s: %d, want 403", method, signed, code)
		}
	})
}

func otherMethod(m string) string {
	if m == http.MethodGet {
		return http.MethodPut
	}
	return http.MethodGet
}

// sameSignedParts reports whether the mutated URL, sent with method m,
// asks exactly what the signed one (for method) allows, as the handler
// reads a URL.
func sameSignedParts(t *testing.T, signed, mutated, method, m string) bool {
	a, err := http.NewRequest(method, "http://parley.test"+signed, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := http.NewRequest(m, "http://parley.test"+mutated, nil)
	if err != nil {
		return false
	}
	qa, qb := a.URL.Query(), b.URL.Query()
	sig := func(v string) string { return strings.ToLower(v) }
	if strings.TrimPrefix(a.URL.Path, Prefix) != strings.TrimPrefix(b.URL.Path, Prefix) || method != m && !(isRead(method) && isRead(m)) ||
		sig(qa.Get("sig")) != sig(qb.Get("sig")) || !sameInt(qa.Get("exp"), qb.Get("exp")) {
		return false
	}
	if method == http.MethodPut {
		return sameInt(qa.Get("size"), qb.Get("size"))
	}
	return qa.Get("ct") == qb.Get("ct")
}

func isRead(m string) bool { return m == http.MethodGet || m == http.MethodHead }

// sameInt: "+7" and "07" say what "7" does to strconv.ParseInt.
func sameInt(x, y string) bool {
	a, errA := strconv.ParseInt(x, 10, 64)
	b, errB := strconv.ParseInt(y, 10, 64)
	return errA == nil && errB == nil && a == b
}
