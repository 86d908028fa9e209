package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/blob/blobtest"
	"github.com/parleychat/parley/internal/blob/local"
	"github.com/parleychat/parley/internal/clock"
)

func TestBlobLocalConformance(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_790_000_000, 0))
	dir := t.TempDir()
	s, err := local.Open(dir, "", clk)
	if err != nil {
		t.Fatal(err)
	}
	other, err := local.Open(t.TempDir(), "", clk)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	blobtest.Run(t, blobtest.Harness{
		Store: s, Other: other,
		Resolve: func(u string) string { return srv.URL + u },
		Wait:    clk.Advance,
	})
}

func TestBlobLocalKeyPersistsPrivately(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewFake(time.Unix(1_790_000_000, 0))
	a, err := local.Open(dir, "", clk)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, local.KeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v", err, fi.Mode())
	}
	// Reopened (a restart), the store signs with the same key: URLs handed
	// out before keep working.
	b, err := local.Open(dir, "", clk)
	if err != nil {
		t.Fatal(err)
	}
	ua, _ := a.PresignGet(context.Background(), "k/x", "text/plain", time.Minute)
	ub, _ := b.PresignGet(context.Background(), "k/x", "text/plain", time.Minute)
	if ua != ub {
		t.Fatalf("signatures differ after reopen: %s vs %s", ua, ub)
	}
}

func TestBlobLocalPutEnforcesSize(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_790_000_000, 0))
	dir := t.TempDir()
	s, err := local.Open(dir, "", clk)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	ctx := context.Background()
	up, _ := s.PresignPut(ctx, "m/upload", 10, time.Minute)
	for _, tc := range []struct {
		body string
		code int
		wire string
	}{
		{"too long body!", http.StatusRequestEntityTooLarge, "too_large"},
		{"short", http.StatusBadRequest, "invalid"},
	} {
		req, _ := http.NewRequest(http.MethodPut, srv.URL+up, bytes.NewReader([]byte(tc.body)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var eb struct {
			Error struct{ Code string } `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&eb)
		resp.Body.Close()
		if resp.StatusCode != tc.code || eb.Error.Code != tc.wire {
			t.Errorf("PUT %d bytes = %d %s, want %d %s", len(tc.body), resp.StatusCode, eb.Error.Code, tc.code, tc.wire)
		}
	}
	// Chunked (no Content-Length) and too long: still refused, nothing kept.
	req, _ := http.NewRequest(http.MethodPut, srv.URL+up, struct{ *bytes.Reader }{bytes.NewReader(make([]byte, 11))})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked 11 bytes = %d", resp.StatusCode)
	}
	if _, err := s.Stat(ctx, "m/upload"); err == nil {
		t.Fatalf("a refused upload left an object")
	}
	left, _ := filepath.Glob(filepath.Join(dir, local.Dir, "m", "*"))
	if len(left) != 0 {
		t.Fatalf("refused uploads left files: %v", left)
	}
}
