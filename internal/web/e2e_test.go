package web

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBrowserE2E drives the web client in a real browser: Debian's chromium
// under playwright-core (web/e2e), three users in three browser contexts,
// against a parley built from this tree, with axe-core checking every
// screen it visits for accessibility. The node script starts and
// restarts the server itself. Screenshots of the main views land in
// $PARLEY_SCREENSHOTS (default web/e2e/screenshots/, not committed).
//
// Without node, the npm packages or chromium the test skips, saying what
// to install, except under CI=true, where it fails: CI must run it.
func TestBrowserE2E(t *testing.T) {
	ci := os.Getenv("CI") == "true"
	if testing.Short() && !ci {
		t.Skip("browser end-to-end test skipped in -short mode")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	chromium := os.Getenv("PARLEY_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	var missing []string
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node (Node.js 20 or newer)")
	}
	for _, pkg := range []string{"playwright-core", "axe-core"} {
		if _, err := os.Stat(filepath.Join(root, "web", "e2e", "node_modules", pkg, "package.json")); err != nil {
			missing = append(missing, "the npm packages (cd web/e2e && npm ci)")
			break
		}
	}
	if _, err := os.Stat(chromium); err != nil {
		missing = append(missing, chromium+" (apt-get install chromium)")
	}
	if len(missing) > 0 {
		msg := "browser end-to-end test needs " + strings.Join(missing, ", ")
		if ci {
			t.Fatal(msg + " — CI=true, so this is a failure, not a skip")
		}
		t.Skip(msg)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	bin := filepath.Join(t.TempDir(), "parley")
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go not on PATH: %v", err)
	}
	build := exec.CommandContext(ctx, gobin, "build", "-o", bin, "./cmd/parley")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build parley: %v\n%s", err, out)
	}

	shots := os.Getenv("PARLEY_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join(root, "web", "e2e", "screenshots")
	}
	cmd := exec.CommandContext(ctx, node, filepath.Join("web", "e2e", "e2e.mjs"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "PARLEY_BIN="+bin, "PARLEY_CHROMIUM="+chromium, "PARLEY_SCREENSHOTS="+shots)
	lw := &lineLogger{t: t}
	cmd.Stdout, cmd.Stderr = lw, lw
	// The script kills its server on the way out; if it hangs, it is killed
	// and its pipes are closed after a short wait.
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	err = cmd.Run()
	lw.flush()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("browser end-to-end test timed out after %s", time.Since(start).Round(time.Second))
	}
	if err != nil {
		t.Fatalf("browser end-to-end test failed: %v (screenshots in %s)", err, shots)
	}
	t.Logf("browser end-to-end test passed in %s; screenshots in %s", time.Since(start).Round(100*time.Millisecond), shots)
}

// lineLogger sends a child's output to t.Log a line at a time.
type lineLogger struct {
	t   *testing.T
	mu  sync.Mutex
	buf []byte
}

var _ io.Writer = (*lineLogger)(nil)

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.t.Log(string(l.buf[:i]))
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.t.Log(string(l.buf))
		l.buf = nil
	}
}
