// Package blobtest is the conformance suite of blob.Store implementations:
// the server-side calls, and the presigned URLs exercised over real HTTP,
// including the refusals (tampered, expired, wrong-key, wrong-size).
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/blob"
)

// Harness is one implementation under test.
type Harness struct {
	Store blob.Store
	// Other is a store of the same kind and location signing with another
	// secret: its URLs must be refused.
	Other blob.Store
	// Resolve turns a URL from the store into one the test can call
	// (local stores hand out server-relative URLs).
	Resolve func(string) string
	// Wait lets d pass for the store's idea of time (a fake clock moves, a
	// real one sleeps).
	Wait func(d time.Duration)
	// Prefix is prepended to every key, so runs sharing a bucket never
	// collide.
	Prefix string
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	t.Run("ServerSide", func(t *testing.T) { testServerSide(t, h) })
	t.Run("PresignedRoundTrip", func(t *testing.T) { testRoundTrip(t, h) })
	t.Run("WrongSize", func(t *testing.T) { testWrongSize(t, h) })
	t.Run("Tampered", func(t *testing.T) { testTampered(t, h) })
	t.Run("WrongSecret", func(t *testing.T) { testWrongSecret(t, h) })
	t.Run("Expired", func(t *testing.T) { testExpired(t, h) })
}

func do(t *testing.T, method, url string, body []byte) (int, []byte, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx(t), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data, resp.Header
}

func testServerSide(t *testing.T, h Harness) {
	s, c := h.Store, ctx(t)
	k := h.Prefix + "srv/a"
	if _, err := s.Stat(c, k); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat(missing) = %v, want ErrNotFound", err)
	}
	// A missing key is reported by Open or, for lazy readers (S3), by the
	// first Read.
	if rc, err := s.Open(c, k); err == nil {
		_, err = io.ReadAll(rc)
		rc.Close()
		if !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("reading a missing key = %v, want ErrNotFound", err)
		}
	} else if !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Open(missing) = %v, want ErrNotFound", err)
	}
	data := []byte("hello, blob")
	if err := s.Put(c, k, bytes.NewReader(data), int64(len(data)), "text/plain"); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if info, err := s.Stat(c, k); err != nil || info.Size != int64(len(data)) {
		t.Fatalf("Stat = %+v, %v", info, err)
	}
	k2 := h.Prefix + "srv/b"
	if err := s.Move(c, k, k2); err != nil {
		t.Fatalf("Move: %v", err)
	}
	if _, err := s.Stat(c, k); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("source after Move: %v", err)
	}
	rc, err := s.Open(c, k2)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %q, %v", got, err)
	}
	if err := s.Move(c, k, k2); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Move(missing) = %v", err)
	}
	if err := s.Delete(c, k2); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := s.Delete(c, k2); err != nil {
		t.Fatalf("Delete(missing) = %v", err)
	}
	if _, err := s.Stat(c, k2); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat after Delete = %v", err)
	}
}

func testRoundTrip(t *testing.T, h Harness) {
	s, c := h.Store, ctx(t)
	k := h.Prefix + "rt/obj"
	data := bytes.Repeat([]byte("0123456789"), 1000)
	up, err := s.PresignPut(c, k, int64(len(data)), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if code, body, _ := do(t, http.MethodPut, h.Resolve(up), data); code != http.StatusOK {
		t.Fatalf("PUT = %d %s", code, body)
	}
	if info, err := s.Stat(c, k); err != nil || info.Size != int64(len(data)) {
		t.Fatalf("Stat after PUT = %+v, %v", info, err)
	}
	down, err := s.PresignGet(c, k, "image/png", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	code, body, hdr := do(t, http.MethodGet, h.Resolve(down), nil)
	if code != http.StatusOK || !bytes.Equal(body, data) {
		t.Fatalf("GET = %d, %d bytes", code, len(body))
	}
	if ct := hdr.Get("Content-Type"); ct != "image/png" {
		t.Fatalf("GET Content-Type = %q", ct)
	}
	// A download URL does not grant an upload.
	if code, _, _ := do(t, http.MethodPut, h.Resolve(down), data); code != http.StatusForbidden {
		t.Fatalf("PUT with a GET URL = %d, want 403", code)
	}
	// Nor does an upload URL let anyone read.
	if code, _, _ := do(t, http.MethodGet, h.Resolve(up), nil); code != http.StatusForbidden {
		t.Fatalf("GET with a PUT URL = %d, want 403", code)
	}
	_ = s.Delete(c, k)
}

// tamper changes one hex digit of the signature and, separately, the key.
func tamper(u string) []string {
	var out []string
	for _, p := range []string{"sig=", "Signature="} {
		if i := strings.Index(u, p); i >= 0 {
			j := i + len(p)
			b := []byte(u)
			if b[j] == '0' {
				b[j] = '1'
			} else {
				b[j] = '0'
			}
			out = append(out, string(b))
		}
	}
	if i := strings.Index(u, "?"); i > 0 {
		out = append(out, u[:i]+"x"+u[i:])
	}
	return out
}

func testTampered(t *testing.T, h Harness) {
	s, c := h.Store, ctx(t)
	k := h.Prefix + "tamper/obj"
	data := []byte("secret bytes")
	if err := s.Put(c, k, bytes.NewReader(data), int64(len(data)), "text/plain"); err != nil {
		t.Fatal(err)
	}
	down, _ := s.PresignGet(c, k, "text/plain", time.Minute)
	up, _ := s.PresignPut(c, k, int64(len(data)), time.Minute)
	for _, u := range tamper(down) {
		if code, body, _ := do(t, http.MethodGet, h.Resolve(u), nil); code != http.StatusForbidden {
			t.Errorf("tampered GET %s = %d %s, want 403", u, code, body)
		}
	}
	for _, u := range tamper(up) {
		if code, body, _ := do(t, http.MethodPut, h.Resolve(u), []byte("evil bytes!!")); code != http.StatusForbidden {
			t.Errorf("tampered PUT %s = %d %s, want 403", u, code, body)
		}
	}
	rc, err := s.Open(c, k)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data) {
		t.Fatalf("object changed by a tampered PUT: %q", got)
	}
	_ = s.Delete(c, k)
}

func testWrongSecret(t *testing.T, h Harness) {
	s, c := h.Store, ctx(t)
	k := h.Prefix + "secret/obj"
	data := []byte("secret bytes")
	if err := s.Put(c, k, bytes.NewReader(data), int64(len(data)), "text/plain"); err != nil {
		t.Fatal(err)
	}
	down, _ := h.Other.PresignGet(c, k, "text/plain", time.Minute)
	if code, body, _ := do(t, http.MethodGet, h.Resolve(down), nil); code != http.StatusForbidden {
		t.Errorf("GET signed with another secret = %d %s, want 403", code, body)
	}
	up, _ := h.Other.PresignPut(c, k, 4, time.Minute)
	if code, body, _ := do(t, http.MethodPut, h.Resolve(up), []byte("evil")); code != http.StatusForbidden {
		t.Errorf("PUT signed with another secret = %d %s, want 403", code, body)
	}
	_ = s.Delete(c, k)
}

func testExpired(t *testing.T, h Harness) {
	s, c := h.Store, ctx(t)
	k := h.Prefix + "expired/obj"
	data := []byte("old bytes")
	if err := s.Put(c, k, bytes.NewReader(data), int64(len(data)), "text/plain"); err != nil {
		t.Fatal(err)
	}
	down, _ := s.PresignGet(c, k, "text/plain", time.Second)
	up, _ := s.PresignPut(c, k, int64(len(data)), time.Second)
	h.Wait(3 * time.Second)
	if code, body, _ := do(t, http.MethodGet, h.Resolve(down), nil); code != http.StatusForbidden {
		t.Errorf("expired GET = %d %s, want 403", code, body)
	}
	if code, body, _ := do(t, http.MethodPut, h.Resolve(up), []byte("new bytes")); code != http.StatusForbidden {
		t.Errorf("expired PUT = %d %s, want 403", code, body)
	}
	_ = s.Delete(c, k)
}

// testWrongSize: an upload URL is good for exactly the declared size.
func testWrongSize(t *testing.T, h Harness) {
	s, c := h.Store, ctx(t)
	k := h.Prefix + "size/obj"
	up, err := s.PresignPut(c, k, 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{9, 11} {
		if code, body, _ := do(t, http.MethodPut, h.Resolve(up), make([]byte, n)); code < 400 || code >= 500 {
			t.Errorf("PUT %d bytes to a 10-byte URL = %d %s, want a 4xx", n, code, body)
		}
	}
	if _, err := s.Stat(c, k); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("a refused upload left an object: %v", err)
	}
}
