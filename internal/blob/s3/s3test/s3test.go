// Package s3test starts a real S3-compatible server (versitygw) for
// tests: signatures and expiry are checked by a real implementation, not
// by a fake that accepts anything.
//
// The binary is found at $VERSITYGW, on PATH, or in $(go env GOPATH)/bin;
// build it once with
//
//	go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
//
// Without it a test is skipped with a message, except under CI=true,
// where it fails: CI must never skip the S3 tests.
package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/blob/s3"
)

// Binary returns the path of versitygw, or "".
func Binary() string {
	if p := os.Getenv("VERSITYGW"); p != "" {
		return p
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if home, err := os.UserHomeDir(); err == nil {
			gopath = filepath.Join(home, "go")
		}
	}
	if p := filepath.Join(gopath, "bin", "versitygw"); gopath != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// Server is a running versitygw.
type Server struct {
	Endpoint  string // host:port
	AccessKey string
	SecretKey string
}

// Start starts versitygw on a free loopback port with a fresh directory;
// it stops when the test ends.
func Start(t testing.TB) Server {
	t.Helper()
	bin := Binary()
	if bin == "" {
		msg := "versitygw not found ($VERSITYGW, PATH, GOPATH/bin): install it with " +
			"`go install github.com/versity/versitygw/cmd/versitygw@v1.8.0` to run the S3 tests"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	srv := Server{AccessKey: "parleytest", SecretKey: randHex(16)}
	dir := t.TempDir()
	for attempt := 0; ; attempt++ {
		srv.Endpoint = freePort(t)
		var out bytes.Buffer
		cmd := exec.Command(bin, "--access", srv.AccessKey, "--secret", srv.SecretKey,
			"--port", srv.Endpoint, "posix", dir)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatalf("start versitygw: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if waitListening(srv.Endpoint, exited, 10*time.Second) {
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-exited
			})
			return srv
		}
		_ = cmd.Process.Kill()
		<-exited
		// Another process may have taken the port between our probe and
		// the server's bind: try a new one a few times.
		if attempt == 2 {
			t.Fatalf("versitygw did not start on %s:\n%s", srv.Endpoint, out.String())
		}
	}
}

// Config returns a store configuration for a fresh bucket on srv, created
// before it returns.
func (srv Server) Config(t testing.TB) s3.Config {
	t.Helper()
	cfg := srv.Raw("parley-" + strings.ToLower(randHex(6)))
	st, err := s3.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := st.EnsureBucket(ctx); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	return cfg
}

// Raw returns a configuration for bucket without creating it.
func (srv Server) Raw(bucket string) s3.Config {
	return s3.Config{Endpoint: srv.Endpoint, Bucket: bucket, Region: "us-east-1",
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey}
}

// URL is the --blob value for cfg.
func URL(cfg s3.Config) string {
	return fmt.Sprintf("s3://%s?endpoint=%s&region=%s&secure=false", cfg.Bucket, cfg.Endpoint, cfg.Region)
}

func freePort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func waitListening(addr string, exited <-chan error, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
