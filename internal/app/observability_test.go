package app_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/apptest"
)

// records is a slog handler that keeps every record, for tests of what
// the server logs.
type records struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *records) Enabled(context.Context, slog.Level) bool { return true }
func (h *records) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.recs = append(h.recs, r.Clone())
	h.mu.Unlock()
	return nil
}
func (h *records) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *records) WithGroup(string) slog.Handler      { return h }

// find returns the records with message msg, each as its attributes.
func (h *records) find(msg string) []map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]string
	for _, r := range h.recs {
		if r.Message != msg {
			continue
		}
		attrs := map[string]string{"level": r.Level.String()}
		r.Attrs(func(a slog.Attr) bool {
			attrs[a.Key] = a.Value.String()
			return true
		})
		out = append(out, attrs)
	}
	return out
}

// metricValue is the value of the series named exactly series (name and
// labels as /metrics prints them), and whether it is there.
func metricValue(body, series string) (float64, bool) {
	for line := range strings.Lines(body) {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

// awaitSeries scrapes /metrics until series reaches at least min: what
// the writer observes after its socket write may land just after the
// client read the frame.
func awaitSeries(ctx context.Context, t *testing.T, url, series string, min float64) string {
	t.Helper()
	for {
		_, body := get(ctx, t, url+"/metrics")
		if v, ok := metricValue(body, series); ok && v >= min {
			return body
		}
		if ctx.Err() != nil {
			t.Fatalf("%s never reached %v:\n%s", series, min, grepLines(body, strings.Split(series, "{")[0]))
		}
	}
}

func grepLines(body, prefix string) string {
	var b strings.Builder
	for line := range strings.Lines(body) {
		if strings.HasPrefix(line, prefix) {
			b.WriteString(line)
		}
	}
	return b.String()
}

// TestOnCallMetrics drives real traffic and reads /metrics: the delivery
// lag of a message to a connected recipient, HTTP answers by route and
// code, error frames and close codes.
func TestOnCallMetrics(t *testing.T) {
	ctx := testCtx(t)
	logs := &records{}
	srv := apptest.StartLogged(t, apptest.Config(t), nil, slog.New(logs))
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
	conv, err := alice.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	// Bob's connection is served before the send, so the message reaches
	// it live: a catch-up at connect is not a delivery lag.
	ac, bc := alice.Dial(ctx), served(t, bob.Dial(ctx))
	if _, err := ac.SendMessage(ctx, text("m1", conv.ConversationID, "hi")); err != nil {
		t.Fatal(err)
	}
	if _, err := bc.Next(ctx, "message"); err != nil {
		t.Fatal(err)
	}
	body := awaitSeries(ctx, t, srv.URL, "parley_delivery_lag_seconds_count", 1)
	if v, _ := metricValue(body, `parley_delivery_lag_seconds_bucket{le="30"}`); v < 1 {
		t.Errorf("a message delivered at once is not under 30 s:\n%s", grepLines(body, "parley_delivery_lag"))
	}
	// The message frame's bytes, each way, at least.
	for _, series := range []string{"parley_websocket_received_bytes_total", "parley_websocket_sent_bytes_total"} {
		if v, _ := metricValue(body, series); v < 100 {
			t.Errorf("%s = %v after a message each way", series, v)
		}
	}

	// A 404 on a known route counts under its pattern, not its path.
	err = alice.API.Do(ctx, http.MethodGet, "/api/v1/users/01JDQ4Z8M1XKZ3V6T9N2B5NONE?secret=hunter2", nil, nil)
	if err == nil {
		t.Fatal("an unknown user was found")
	}
	awaitSeries(ctx, t, srv.URL, `parley_http_requests_total{code="404",route="GET /api/v1/users/{id}"}`, 1)

	// A frame the server cannot read is answered with an error frame.
	if err := bc.SendRaw(ctx, []byte(`{"type":"no_such_frame"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := bc.Next(ctx, "error"); err != nil {
		t.Fatal(err)
	}
	awaitSeries(ctx, t, srv.URL, `parley_error_frames_total{code="invalid"}`, 1)

	// A client's clean close counts as 1000, a dropped one as 1006.
	if err := bc.Close(); err != nil {
		t.Fatal(err)
	}
	ac.Abort()
	awaitSeries(ctx, t, srv.URL, `parley_ws_closes_total{code="1000"}`, 1)
	body = awaitSeries(ctx, t, srv.URL, `parley_ws_closes_total{code="1006"}`, 1)
	awaitSeries(ctx, t, srv.URL, `parley_http_requests_total{code="101",route="GET /ws"}`, 2)
	if _, ok := metricValue(body, `parley_http_request_seconds_count{route="GET /api/v1/users/{id}"}`); !ok {
		t.Errorf("no request duration by route:\n%s", grepLines(body, "parley_http_request_seconds_count"))
	}
	for line := range strings.Lines(body) {
		if strings.HasPrefix(line, "parley_http_requests_total") && strings.Contains(line, "01JDQ4Z8M1XKZ3V6T9N2B5NONE") {
			t.Errorf("a path in a route label: %s", line)
		}
	}

	// The access log: one line per request, the pattern and never the
	// query string; none for /metrics.
	var found bool
	for _, l := range logs.find("http") {
		for k, v := range l {
			if strings.Contains(v, "hunter2") || strings.Contains(v, "?") {
				t.Errorf("access log %s=%q holds the query string", k, v)
			}
		}
		switch l["route"] {
		case "GET /metrics":
			t.Errorf("a scrape was logged: %v", l)
		case "GET /api/v1/users/{id}":
			found = l["status"] == "404" && l["method"] == "GET" && l["client"] == "127.0.0.1" && l["duration"] != "" && l["level"] == "INFO"
		}
	}
	if !found {
		t.Errorf("no access log line for the 404: %v", logs.find("http"))
	}
}

// TestStoreAndCleanupMetrics: the store's pools, the receipt queue and
// the last successful cleanup are on /metrics.
func TestStoreAndCleanupMetrics(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	srv.NewUser(ctx, "erin")
	_, body := get(ctx, t, srv.URL+"/metrics")
	if v, ok := metricValue(body, "parley_cleanup_last_success_timestamp_seconds"); !ok || v != 0 {
		t.Errorf("before any cleanup: %v, %v", v, ok)
	}
	for _, series := range []string{
		`parley_store_pool_open_connections{pool="write"}`, `parley_store_pool_open_connections{pool="read"}`,
		`parley_store_pool_in_use_connections{pool="read"}`, `parley_store_pool_waits_total{pool="write"}`,
		`parley_store_pool_wait_seconds_total{pool="read"}`, "parley_receipt_queue_depth",
	} {
		if _, ok := metricValue(body, series); !ok {
			t.Errorf("no %s:\n%s", series, grepLines(body, "parley_store_pool"))
		}
	}
	if v, _ := metricValue(body, `parley_store_pool_open_connections{pool="write"}`); v < 1 {
		t.Errorf("the write pool has %v connections open after a registration", v)
	}
	before := time.Now()
	if _, err := srv.App.RunCleanup(ctx); err != nil {
		t.Fatal(err)
	}
	_, body = get(ctx, t, srv.URL+"/metrics")
	if v, _ := metricValue(body, "parley_cleanup_last_success_timestamp_seconds"); v < float64(before.Unix()) {
		t.Errorf("last cleanup success %v, want at least %v", v, before.Unix())
	}
}

// TestFailedLoginLogged: a failed login is a warn line naming the client
// and not the username tried.
func TestFailedLoginLogged(t *testing.T) {
	ctx := testCtx(t)
	logs := &records{}
	srv := apptest.StartLogged(t, apptest.Config(t), nil, slog.New(logs))
	u := srv.NewUser(ctx, "carol")
	if _, err := srv.Client().Login(ctx, u.Username, "wrong-password"); err == nil {
		t.Fatal("a wrong password logged in")
	}
	lines := logs.find("login failed")
	if len(lines) != 1 {
		t.Fatalf("login failed lines = %v", lines)
	}
	l := lines[0]
	if l["level"] != "WARN" || l["client"] != "127.0.0.1" || strings.Contains(fmt.Sprint(l), u.Username) {
		t.Errorf("login failed line = %v", l)
	}
	_, body := get(ctx, t, srv.URL+"/metrics")
	if v, _ := metricValue(body, "parley_login_failures_total"); v != 1 {
		t.Errorf("parley_login_failures_total = %v", v)
	}
}

// TestAccessLogOff: --access-log=false writes no access lines.
func TestAccessLogOff(t *testing.T) {
	ctx := testCtx(t)
	logs := &records{}
	cfg := apptest.Config(t)
	cfg.AccessLog = false
	srv := apptest.StartLogged(t, cfg, nil, slog.New(logs))
	srv.NewUser(ctx, "dave")
	if l := logs.find("http"); len(l) != 0 {
		t.Errorf("access log lines with --access-log=false: %v", l)
	}
}
