// Package nodetest runs the repository's JavaScript tests (the SDK's, the
// browser client's) from go test, so that the README's one test command
// runs them too: it finds the module root, applies the skip rule for
// missing tools, builds the parley they start, and runs node with its
// output in the test log.
package nodetest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Root returns the module root, given the test's directory relative to it
// (e.g. "sdk/js").
func Root(t *testing.T, rel string) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join(strings.Repeat("../", strings.Count(rel, "/")+1)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	return root
}

// Require skips the test when something it needs is missing (missing names
// each thing and how to install it), except under CI=true, where it fails:
// CI must run it. what names the test in the message.
func Require(t *testing.T, what string, missing []string) {
	t.Helper()
	if len(missing) == 0 {
		return
	}
	msg := what + " needs " + strings.Join(missing, ", ")
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " — CI=true, so this is a failure, not a skip")
	}
	t.Skip(msg)
}

// SkipShort skips in -short mode, unless under CI.
func SkipShort(t *testing.T, what string) {
	t.Helper()
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip(what + " skipped in -short mode")
	}
}

// BuildParley builds ./cmd/parley of the module at root into a temporary
// directory and returns the binary's path.
func BuildParley(ctx context.Context, t *testing.T, root string) string {
	t.Helper()
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
	return bin
}

// Run runs prog in dir with env, its output logged a line at a time, and
// fails the test if it fails; name says what it is in the log.
func Run(ctx context.Context, t *testing.T, name, dir string, env []string, prog string, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = dir
	cmd.Env = env
	lw := &lineLogger{t: t}
	cmd.Stdout, cmd.Stderr = lw, lw
	// The scripts kill their servers on the way out; if one hangs, it is
	// killed and its pipes closed after a short wait.
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	err := cmd.Run()
	lw.flush()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("%s timed out after %s", name, time.Since(start).Round(time.Second))
	}
	if err != nil {
		t.Fatalf("%s failed: %v", name, err)
	}
	t.Logf("%s passed in %s", name, time.Since(start).Round(100*time.Millisecond))
}

// lineLogger sends a child's output to t.Log a line at a time.
type lineLogger struct {
	t   *testing.T
	mu  sync.Mutex
	buf []byte
}

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
