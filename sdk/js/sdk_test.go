package sdkjs

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

// TestSDK runs the JavaScript SDK's own tests (node --test, test/*.test.js)
// against a parley built from this tree, then its type check (tsc --noEmit
// --strict over the JSDoc of src/). The node tests start and restart their
// own servers from $PARLEY_BIN.
//
// Without node or sdk/js/node_modules the test skips, saying what to
// install, except under CI=true, where it fails: CI must run it.
func TestSDK(t *testing.T) {
	ci := os.Getenv("CI") == "true"
	if testing.Short() && !ci {
		t.Skip("JavaScript SDK tests skipped in -short mode")
	}
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	var missing []string
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node (Node.js 20 or newer)")
	}
	npx, err := exec.LookPath("npx")
	if err != nil {
		missing = append(missing, "npx (npm)")
	}
	for _, pkg := range []string{"ws", "typescript"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json")); err != nil {
			missing = append(missing, "the npm packages (cd sdk/js && npm ci)")
			break
		}
	}
	if len(missing) > 0 {
		msg := "JavaScript SDK tests need " + strings.Join(missing, ", ")
		if ci {
			t.Fatal(msg + " — CI=true, so this is a failure, not a skip")
		}
		t.Skip(msg)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
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

	tests, err := filepath.Glob(filepath.Join(dir, "test", "*.test.js"))
	if err != nil || len(tests) == 0 {
		t.Fatalf("no test/*.test.js in %s (%v)", dir, err)
	}
	run(ctx, t, "node --test", dir, append(os.Environ(), "PARLEY_BIN="+bin), node, append([]string{"--test"}, tests...)...)
	run(ctx, t, "tsc --noEmit", dir, os.Environ(), npx, "--no-install", "tsc", "--noEmit", "-p", dir)
}

// run runs one command in dir, its output logged a line at a time, and
// fails the test if it fails.
func run(ctx context.Context, t *testing.T, name, dir string, env []string, prog string, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = dir
	cmd.Env = env
	lw := &lineLogger{t: t}
	cmd.Stdout, cmd.Stderr = lw, lw
	// The node tests kill their servers on the way out; if they hang, they
	// are killed and their pipes closed after a short wait.
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
