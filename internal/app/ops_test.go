package app_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/app"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/buildinfo"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/sqlstore"
)

// get fetches url and returns its status and body.
func get(ctx context.Context, t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var opsPaths = []string{"/healthz", "/readyz", "/metrics", "/debug/pprof/"}

// TestAdminListener: with --admin-addr the operator's endpoints are served
// there and only there; the public port answers 404 for them.
func TestAdminListener(t *testing.T) {
	ctx := testCtx(t)
	cfg := apptest.Config(t)
	cfg.AdminAddr = "127.0.0.1:0"
	cfg.Pprof = true
	srv := apptest.Start(t, cfg, nil)
	if srv.AdminURL == "" || srv.AdminURL == srv.URL {
		t.Fatalf("admin URL %q, public %q", srv.AdminURL, srv.URL)
	}
	for _, p := range opsPaths {
		if code, _ := get(ctx, t, srv.URL+p); code != http.StatusNotFound {
			t.Errorf("public %s = %d, want 404 with --admin-addr", p, code)
		}
		if code, body := get(ctx, t, srv.AdminURL+p); code != http.StatusOK {
			t.Errorf("admin %s = %d: %s", p, code, body)
		}
	}
	// The public API is where it was.
	u := srv.NewUser(ctx, "ops")
	if _, err := u.API.Conversations(ctx); err != nil {
		t.Fatal(err)
	}
	_, body := get(ctx, t, srv.AdminURL+"/readyz")
	var r struct {
		Status string            `json:"status"`
		Down   map[string]string `json:"down"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || r.Status != "ready" || len(r.Down) != 0 {
		t.Fatalf("/readyz body %q: %v", body, err)
	}
	bi := buildinfo.Get()
	_, metrics := get(ctx, t, srv.AdminURL+"/metrics")
	want := fmt.Sprintf(`parley_build_info{commit=%q,go_version=%q,version=%q} 1`, bi.Commit, bi.GoVersion, bi.Version)
	if !strings.Contains(metrics, want) {
		t.Errorf("/metrics lacks %s", want)
	}
	// A restart binds the same admin port again.
	adminURL := srv.AdminURL
	srv.Restart()
	if srv.AdminURL != adminURL {
		t.Fatalf("admin URL after a restart: %s, was %s", srv.AdminURL, adminURL)
	}
	if code, _ := get(ctx, t, srv.AdminURL+"/healthz"); code != http.StatusOK {
		t.Fatalf("admin /healthz after a restart = %d", code)
	}
}

// TestAdminAddrInUse: an admin address that cannot be bound stops the
// start with an error naming it, and frees the data dir.
func TestAdminAddrInUse(t *testing.T) {
	cfg := apptest.Config(t)
	taken := apptest.Start(t, apptest.Config(t), nil)
	cfg.AdminAddr = strings.TrimPrefix(taken.URL, "http://")
	a, err := app.New(context.Background(), cfg, apptest.Logger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.ListenAdmin(); err == nil || !strings.Contains(err.Error(), "admin-addr") {
		t.Fatalf("admin listener on a taken port: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	err = a.Serve(context.Background(), ln)
	if err == nil || !strings.Contains(err.Error(), "admin-addr") {
		t.Fatalf("serve with the admin port taken: %v", err)
	}
	cfg.AdminAddr = ""
	srv := apptest.Start(t, cfg, nil) // the dir was given up
	srv.Stop()
}

// TestReadyzNamesWhatIsDown: in a cluster /readyz answers 503 naming Redis
// while Redis is unreachable, the store while PostgreSQL is, and 200 once
// both answer again. Each is reached through a proxy the test cuts.
func TestReadyzNamesWhatIsDown(t *testing.T) {
	ctx := testCtx(t)
	pg := apptest.Postgres(t)
	redisURL, prefix := apptest.Redis(t)
	pgProxy := apptest.NewProxy(t, hostOf(t, pg))
	redisProxy := apptest.NewProxy(t, hostOf(t, redisURL))
	cfg := apptest.Config(t)
	cfg.Store = withHost(t, pg, pgProxy.Addr())
	cfg.Redis, cfg.RedisPrefix = withHost(t, redisURL, redisProxy.Addr()), prefix
	cfg.AdminAddr = "127.0.0.1:0"
	srv := apptest.Start(t, cfg, nil)

	ready := func(wantCode int, wantDown ...string) {
		t.Helper()
		code, body := get(ctx, t, srv.AdminURL+"/readyz")
		var r struct {
			Status string            `json:"status"`
			Down   map[string]string `json:"down"`
		}
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatalf("/readyz body %q: %v", body, err)
		}
		if code != wantCode || len(r.Down) != len(wantDown) {
			t.Fatalf("/readyz = %d %s, want %d naming %v", code, body, wantCode, wantDown)
		}
		for _, d := range wantDown {
			if r.Down[d] == "" {
				t.Fatalf("/readyz = %s, want it to name %s", body, d)
			}
		}
	}
	ready(http.StatusOK)

	redisProxy.Down()
	ready(http.StatusServiceUnavailable, "redis")
	if code, _ := get(ctx, t, srv.AdminURL+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz = %d while Redis is down: the process still serves", code)
	}
	redisProxy.Up()
	ready(http.StatusOK)

	pgProxy.Down()
	ready(http.StatusServiceUnavailable, "store")
	redisProxy.Down()
	ready(http.StatusServiceUnavailable, "store", "redis")
	redisProxy.Up()
	pgProxy.Up()
	ready(http.StatusOK)
}

func hostOf(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

func withHost(t *testing.T, rawURL, host string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = host
	return u.String()
}

// TestSchemaNewerThanBinaryStopsStart: a data dir a newer binary has
// migrated is refused at start, naming both versions.
func TestSchemaNewerThanBinaryStopsStart(t *testing.T) {
	cfg := apptest.Config(t)
	srv := apptest.Start(t, cfg, nil)
	srv.Stop()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(cfg.DataDir, sqlstore.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future.sql')"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = app.New(context.Background(), cfg, apptest.Logger(t), nil)
	if !errors.Is(err, store.ErrSchemaTooNew) || !strings.Contains(err.Error(), "schema version 9999") || !strings.Contains(err.Error(), "knows versions up to") {
		t.Fatalf("start on a newer schema: %v", err)
	}
	// The refusal gave the data dir up.
	if _, err := app.New(context.Background(), cfg, apptest.Logger(t), nil); !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("second attempt: %v, want the same refusal, not a held lock", err)
	}
}

// serveProcess is a `parley serve` whose log lines the test reads.
type serveProcess struct {
	cmd   *exec.Cmd
	lines chan string // stderr, a line at a time; closed at EOF
}

// startServe starts `parley serve` on dataDir with a random port.
func startServe(t *testing.T, dataDir string, env ...string) *serveProcess {
	t.Helper()
	cmd := exec.Command(parleyBinary(t), "serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir,
		"--password-memory-kib", "64", "--password-time", "1")
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProcess{cmd: cmd, lines: make(chan string, 1024)}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if testingVerbose() {
				t.Log(sc.Text())
			}
			p.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
		}
	})
	return p
}

// waitLine returns the first log line with msg, and the lines before it.
func (p *serveProcess) waitLine(ctx context.Context, t *testing.T, msg string) (line string, before []string) {
	t.Helper()
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("parley serve ended before logging %q: %s", msg, strings.Join(before, "\n"))
			}
			if strings.Contains(l, `"msg":"`+msg+`"`) {
				return l, before
			}
			before = append(before, l)
		case <-ctx.Done():
			t.Fatalf("no %q line: %v\n%s", msg, ctx.Err(), strings.Join(before, "\n"))
		}
	}
}

// TestDataDirLockAcrossProcesses: a second `parley serve` on a data dir
// in use refuses to start, exits non-zero and names the holder's pid; the
// lock dies with its holder, even by SIGKILL, so a restart is not blocked.
func TestDataDirLockAcrossProcesses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	first := startServe(t, dir)
	first.waitLine(ctx, t, "serving")

	second := exec.CommandContext(ctx, parleyBinary(t), "serve", "--addr", "127.0.0.1:0", "--data-dir", dir)
	out, err := second.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("second server on the data dir: %v, want a non-zero exit\n%s", err, out)
	}
	for _, want := range []string{"data dir is in use", fmt.Sprintf("pid %d", first.cmd.Process.Pid)} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("refusal does not say %q:\n%s", want, out)
		}
	}
	if lock, err := os.ReadFile(filepath.Join(dir, app.LockFileName)); err != nil ||
		!strings.HasPrefix(string(lock), fmt.Sprintf("pid %d ", first.cmd.Process.Pid)) {
		t.Fatalf("lock file %q, %v: want the holder's pid", lock, err)
	}

	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()

	// The kernel released the dead holder's flock: a new server starts,
	// and says what it is. A misspelt variable is warned about.
	third := startServe(t, dir, "PARLEY_RETENSION=1h")
	line, before := third.waitLine(ctx, t, "serving")
	warned := false
	for _, l := range before {
		if strings.Contains(l, `"variable":"PARLEY_RETENSION"`) && strings.Contains(l, `"did_you_mean":"PARLEY_RETENTION"`) {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no warning of PARLEY_RETENSION before serving:\n%s", strings.Join(before, "\n"))
	}
	var start map[string]any
	if err := json.Unmarshal([]byte(line), &start); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "commit", "store", "bus", "file_limit", "limits", "addr"} {
		if _, ok := start[k]; !ok {
			t.Errorf("start-up line lacks %s: %s", k, line)
		}
	}
	if start["store"] != "sqlite" || start["bus"] != "local" {
		t.Errorf("start-up line: store %v, bus %v", start["store"], start["bus"])
	}
	if lim, _ := start["limits"].(map[string]any); lim["auth_rate_limit"] != float64(30) {
		t.Errorf("start-up line's limits: %v", start["limits"])
	}
	if err := third.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := third.cmd.Wait(); err != nil {
		t.Fatalf("clean stop: %v", err)
	}
}

// TestDataDirLockedWithPostgres: with PostgreSQL as the store the data dir
// still holds keys and media, and is locked the same way.
func TestDataDirLockedWithPostgres(t *testing.T) {
	cfg := apptest.Config(t)
	cfg.Store = apptest.Postgres(t)
	apptest.Start(t, cfg, nil)
	_, err := app.New(context.Background(), cfg, apptest.Logger(t), nil)
	if !errors.Is(err, app.ErrDataDirInUse) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("second node on the data dir of a PostgreSQL node: %v, want ErrDataDirInUse naming the pid", err)
	}
}
