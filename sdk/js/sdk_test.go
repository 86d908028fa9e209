package sdkjs

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/devtools/nodetest"
)

// TestSDK runs the JavaScript SDK's own tests (node --test, test/*.test.js)
// against a parley built from this tree, then its type check (tsc --noEmit
// --strict over the JSDoc of src/). The node tests start and restart their
// own servers from $PARLEY_BIN.
//
// Without node or sdk/js/node_modules the test skips, saying what to
// install, except under CI=true, where it fails: CI must run it.
func TestSDK(t *testing.T) {
	nodetest.SkipShort(t, "JavaScript SDK tests")
	root := nodetest.Root(t, "sdk/js")
	dir := filepath.Join(root, "sdk", "js")
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
	nodetest.Require(t, "JavaScript SDK tests", missing)

	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	bin := nodetest.BuildParley(ctx, t, root)
	tests, err := filepath.Glob(filepath.Join(dir, "test", "*.test.js"))
	if err != nil || len(tests) == 0 {
		t.Fatalf("no test/*.test.js in %s (%v)", dir, err)
	}
	nodetest.Run(ctx, t, "node --test", dir, append(os.Environ(), "PARLEY_BIN="+bin), node, append([]string{"--test"}, tests...)...)
	nodetest.Run(ctx, t, "tsc --noEmit", dir, os.Environ(), npx, "--no-install", "tsc", "--noEmit", "-p", dir)
}
