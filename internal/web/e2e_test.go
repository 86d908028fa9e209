package web

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/devtools/nodetest"
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
	nodetest.SkipShort(t, "browser end-to-end test")
	root := nodetest.Root(t, "internal/web")
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
	nodetest.Require(t, "browser end-to-end test", missing)

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	bin := nodetest.BuildParley(ctx, t, root)
	shots := os.Getenv("PARLEY_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join(root, "web", "e2e", "screenshots")
	}
	t.Logf("screenshots in %s", shots)
	nodetest.Run(ctx, t, "browser end-to-end test", root,
		append(os.Environ(), "PARLEY_BIN="+bin, "PARLEY_CHROMIUM="+chromium, "PARLEY_SCREENSHOTS="+shots),
		node, filepath.Join("web", "e2e", "e2e.mjs"))
}
