package bench

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/app"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/config"
)

// childEnv makes the test binary act as `parley serve`, so the child
// server path is tested without building the command.
const childEnv = "PARLEY_BENCH_TEST_SERVE"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" && len(os.Args) > 1 && os.Args[1] == "serve" {
		os.Exit(serveForTest(os.Args[2:]))
	}
	os.Exit(m.Run())
}

func serveForTest(args []string) int {
	cfg, err := config.Load("serve", args, func(string) string { return "" }, os.Stderr)
	if err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := app.New(ctx, cfg, log, nil)
	if err != nil {
		log.Error("start", "err", err)
		return 1
	}
	if err := a.ListenAndServe(ctx); err != nil {
		log.Error("serve", "err", err)
		return 1
	}
	return 0
}

// target starts an in-process server configured as the child would be.
func target(t *testing.T) Options {
	t.Helper()
	cfg := apptest.Config(t)
	cfg.RateLimit, cfg.RateBurst, cfg.MaxQueue = 1e6, 1e6, 65536
	cfg.Abuse.PasswordHashQueue = 0 // as ChildArgs: setup logins run in parallel
	srv := apptest.Start(t, cfg, nil)
	return Options{Target: srv.URL, ServerPID: os.Getpid(), SetupConcurrency: 16, Progress: testLog{t}}
}

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func run(t *testing.T, opt Options, sc Scenario) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := Run(ctx, opt, sc)
	if err != nil {
		t.Fatalf("run %s: %v", sc.Name(), err)
	}
	var table, js strings.Builder
	if err := r.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + table.String())
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var decoded map[string]any
	if err := json.Unmarshal([]byte(js.String()), &decoded); err != nil {
		t.Fatalf("report JSON does not parse: %v\n%s", err, js.String())
	}
	for _, k := range []string{"scenario", "params", "figures", "machine", "server", "client"} {
		if _, ok := decoded[k]; !ok {
			t.Errorf("report JSON has no %q: %s", k, js.String())
		}
	}
	if r.Client.CPUSeconds == nil || r.Window <= 0 {
		t.Errorf("client usage or window missing: %+v window %v", r.Client, r.Window)
	}
	return r
}

func figure(t *testing.T, fs Figures, key string) float64 {
	t.Helper()
	for _, f := range fs {
		if f.Key == key {
			return f.Value
		}
	}
	t.Fatalf("no figure %q in %+v", key, fs)
	return 0
}

func positive(t *testing.T, r *Report, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if v := figure(t, r.Figures, k); !(v > 0) {
			t.Errorf("%s = %v, want > 0", k, v)
		}
	}
}

func ordered(t *testing.T, r *Report) {
	t.Helper()
	for _, l := range r.Latencies {
		p := l.Percentiles
		if p.Count == 0 {
			t.Errorf("%s: no samples", l.Key)
			continue
		}
		if !(0 <= p.P50 && p.P50 <= p.P90 && p.P90 <= p.P99 && p.P99 <= p.P999 && p.P999 <= p.Max) {
			t.Errorf("%s: percentiles out of order: %+v", l.Key, p)
		}
	}
}

// consistent checks the traffic counts: nothing lost, nothing out of
// order, no more deliveries than acks allow, and (if receipts) some
// receipts back to the senders.
func consistent(t *testing.T, r *Report, fanout int, receipts bool) {
	t.Helper()
	c := func(k string) float64 { return figure(t, r.Checks, k) }
	if c("acked") > c("sent") || c("delivered") != c("acked")*float64(fanout) {
		t.Errorf("sent %v, acked %v, delivered %v (fan-out %d)", c("sent"), c("acked"), c("delivered"), fanout)
	}
	for _, k := range []string{"unacked_at_end", "undelivered_at_end", "sequence_gaps", "sequence_repeats", "error_frames"} {
		if c(k) != 0 {
			t.Errorf("%s = %v, want 0", k, c(k))
		}
	}
	if receipts && c("receipts") <= 0 {
		t.Errorf("no receipts reached the senders")
	}
}

// generators runs fn once per generator mode, as a subtest named after it.
func generators(t *testing.T, fn func(t *testing.T, mode string)) {
	for _, mode := range []string{GeneratorLean, GeneratorSDK} {
		t.Run(mode, func(t *testing.T) { fn(t, mode) })
	}
}

// generated checks the report names the generator and its CPU per message.
func generated(t *testing.T, r *Report, mode string) {
	t.Helper()
	if r.Generator != mode {
		t.Errorf("report says generator %q, want %q", r.Generator, mode)
	}
	if v := r.Client.CPUPerMessage; v == nil || !(*v > 0) {
		t.Errorf("generator CPU per message = %v, want > 0", v)
	}
}

func TestThroughput(t *testing.T) {
	generators(t, func(t *testing.T, mode string) {
		p := DefaultThroughput()
		p.Pairs, p.Window, p.Duration, p.Warmup, p.Generator = 2, 4, Dur(time.Second), Dur(200*time.Millisecond), mode
		r := run(t, target(t), p)
		positive(t, r, "acked_msgs_per_s", "delivered_msgs_per_s", "receipts_per_s")
		ordered(t, r)
		consistent(t, r, 1, true)
		generated(t, r, mode)
		if r.Server.CPUSeconds == nil || r.Server.RSS == nil {
			t.Errorf("server usage unknown with --server-pid: %+v", r.Server)
		}
		committed(t, r)
	})
}

// committed checks the commit histograms were scraped and saw commits.
func committed(t *testing.T, r *Report) {
	t.Helper()
	c := r.Commits
	if c == nil {
		t.Fatal("no commit figures: /metrics not scraped")
	}
	if c.Count <= 0 || c.PerSecond <= 0 || c.MeanMS <= 0 || c.P50MS <= 0 || c.P99MS < c.P50MS || c.MeanBatch < 1 {
		t.Errorf("commit figures not sane: %+v", *c)
	}
}

func TestLatency(t *testing.T) {
	generators(t, func(t *testing.T, mode string) {
		p := DefaultLatency()
		p.Users, p.Rate, p.Duration, p.Warmup, p.Generator = 4, 200, Dur(time.Second), Dur(200*time.Millisecond), mode
		r := run(t, target(t), p)
		positive(t, r, "sent_msgs_per_s", "delivered_msgs_per_s", "deliver_p50_ms", "deliver_p99_ms")
		ordered(t, r)
		consistent(t, r, 1, true)
		generated(t, r, mode)
		// Open loop: the sent rate is the offered one, whatever the server.
		if got := figure(t, r.Figures, "sent_msgs_per_s"); got < 150 || got > 250 {
			t.Errorf("sent %v msg/s at an offered 200", got)
		}
	})
}

func TestFanout(t *testing.T) {
	generators(t, func(t *testing.T, mode string) {
		for _, size := range []int{2, 3} {
			t.Run(map[int]string{2: "pairs", 3: "groups"}[size], func(t *testing.T) {
				p := DefaultFanout()
				p.Senders, p.GroupSize, p.Window, p.Duration, p.Warmup = 2, size, 4, Dur(time.Second), Dur(200*time.Millisecond)
				p.Generator = mode
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				r, err := Run(ctx, target(t), p)
				if err != nil {
					t.Fatal(err)
				}
				positive(t, r, "acked_msgs_per_s", "deliveries_per_s")
				ordered(t, r)
				consistent(t, r, size-1, true)
				generated(t, r, mode)
			})
		}
	})
}

func TestConnections(t *testing.T) {
	p := DefaultConnections()
	p.Conns, p.DevicesPerUser, p.DialConcurrency, p.Hold = 20, 2, 8, 0
	r := run(t, target(t), p)
	positive(t, r, "connect_per_s", "connect_seconds")
	if got := figure(t, r.Figures, "connections"); got != 20 {
		t.Errorf("%v connections open, want 20", got)
	}
	figure(t, r.Figures, "server_rss_per_conn_bytes")
	ordered(t, r)
}

func TestDrain(t *testing.T) {
	generators(t, func(t *testing.T, mode string) {
		p := DefaultDrain()
		p.Messages, p.Window, p.Generator = 300, 32, mode
		r := run(t, target(t), p)
		positive(t, r, "drain_seconds", "drain_msgs_per_s", "queue_msgs_per_s")
		consistent(t, r, 1, false)
		generated(t, r, mode)
		if got := figure(t, r.Checks, "delivered"); got != 300 {
			t.Errorf("delivered %v, want 300", got)
		}
	})
}

func TestStorm(t *testing.T) {
	p := DefaultStorm()
	p.Users = 40
	r := run(t, target(t), p)
	positive(t, r, "all_online_seconds", "connect_per_s")
	if got, failed := figure(t, r.Figures, "online"), figure(t, r.Figures, "failed"); got != 40 || failed != 0 {
		t.Errorf("%v online, %v failed; want 40 and 0", got, failed)
	}
	ordered(t, r)
}

// TestChildServer runs a scenario against a child server (this test
// binary acting as `parley serve`), as `parley bench` does by default.
func TestChildServer(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(childEnv, "1")
	p := DefaultThroughput()
	p.Pairs, p.Window, p.Duration, p.Warmup = 1, 4, Dur(time.Second), Dur(200*time.Millisecond)
	prof := t.TempDir() + "/cpu.prof"
	r := run(t, Options{ServerExe: exe, CPUProfile: prof, CPUProfileSeconds: 1, Progress: testLog{t}}, p)
	positive(t, r, "acked_msgs_per_s", "delivered_msgs_per_s")
	consistent(t, r, 1, true)
	if r.Server.Mode != "child" || r.Server.PID == 0 || r.Server.PID == os.Getpid() {
		t.Errorf("server = %+v, want a child", r.Server)
	}
	if r.Server.CPUSeconds == nil || *r.Server.CPUSeconds <= 0 || r.Server.RSS == nil || *r.Server.RSS <= 0 {
		t.Errorf("child usage unknown: %+v", r.Server)
	}
	committed(t, r)
	if st, err := os.Stat(prof); err != nil || st.Size() == 0 {
		t.Errorf("no CPU profile: %v", err)
	}
	// The child is gone once Run returns.
	if err := syscall.Kill(r.Server.PID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("child %d still exists after the run: %v", r.Server.PID, err)
	}
}

func TestSummarize(t *testing.T) {
	var s []int64
	for i := 1000; i >= 1; i-- {
		s = append(s, int64(i)*int64(time.Millisecond))
	}
	p := summarize(s)
	if p.Count != 1000 || p.P50 != 500 || p.P90 != 900 || p.P99 != 990 || p.P999 != 999 || p.Max != 1000 || p.Mean != 500.5 {
		t.Fatalf("summarize(1..1000 ms) = %+v", p)
	}
	if z := summarize(nil); z.Count != 0 || z.Max != 0 {
		t.Fatalf("summarize(nil) = %+v", z)
	}
}

func TestLookup(t *testing.T) {
	for _, sc := range Scenarios() {
		got, err := Lookup(sc.Name())
		if err != nil || got.Name() != sc.Name() {
			t.Errorf("Lookup(%q) = %v, %v", sc.Name(), got, err)
		}
	}
	if _, err := Lookup("nope"); err == nil || !strings.Contains(err.Error(), "throughput") {
		t.Errorf("Lookup(nope) = %v, want an error listing the scenarios", err)
	}
}
