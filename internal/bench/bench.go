// Package bench is Parley's load harness. It drives a server as real
// clients would, setup through the public client SDK and the measured
// messages through a lean WebSocket client of its own (or the SDK: see
// wire.go), and measures what users feel: messages per second with
// receipts, latency under an open-loop rate, group fan-out, idle
// connections, the drain of an offline queue and a storm of connects. By
// default it starts the server itself, as a child process, so that the
// server's CPU and memory can be told apart from the generator's.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Options are how a run reaches its server, common to every scenario.
type Options struct {
	// Target is the base URL of a running server (http://host:port).
	// Empty: start ServerExe as a child.
	Target string
	// Nodes are more nodes of Target's cluster. Users are spread over
	// Target and Nodes round-robin, so with one more node each pair's
	// sender and recipient sit on different nodes.
	Nodes []string
	// ServerExe is the parley binary run as `parley serve` when Target is
	// empty; ServerArgs are appended to its flags.
	ServerExe  string
	ServerArgs []string
	// ServerPID is the pid of a Target server on this machine, for its CPU
	// and memory; 0 leaves them unknown.
	ServerPID int
	// Pprof starts the child with /debug/pprof.
	Pprof bool
	// CPUProfile, if set, is where the server's CPU profile of the
	// measured phase is written (the server must serve /debug/pprof: a
	// child gets --pprof). CPUProfileSeconds is its length (default: the
	// measured phase, at most 30 s).
	CPUProfile        string
	CPUProfileSeconds int
	// SetupConcurrency bounds parallel registrations, logins and
	// conversation creations (default 64).
	SetupConcurrency int
	// SourceAddrs spreads connections over 127.0.0.1 … 127.0.0.N, so that
	// more than one address's ~28,000 ephemeral ports can reach a loopback
	// server. 0: one address per 20,000 connections.
	SourceAddrs int
	// Progress receives progress lines; nil discards them.
	Progress io.Writer
}

// Scenario is one kind of run with its parameters. The scenarios are
// Throughput, Latency, Fanout, Connections, Drain and Storm.
type Scenario interface {
	// Name is the scenario's command-line name.
	Name() string
	describe() string
	run(ctx context.Context, e *env, r *Report) error
}

// Scenarios lists every scenario with its default parameters.
func Scenarios() []Scenario {
	return []Scenario{
		DefaultThroughput(), DefaultLatency(), DefaultFanout(),
		DefaultConnections(), DefaultDrain(), DefaultStorm(),
	}
}

// Lookup returns the named scenario with its default parameters.
func Lookup(name string) (Scenario, error) {
	var names []string
	for _, s := range Scenarios() {
		if s.Name() == name {
			return s, nil
		}
		names = append(names, s.Name())
	}
	return nil, fmt.Errorf("unknown scenario %q (one of %s)", name, strings.Join(names, ", "))
}

// Run runs one scenario and reports what it measured.
func Run(ctx context.Context, opt Options, sc Scenario) (*Report, error) {
	if opt.SetupConcurrency <= 0 {
		opt.SetupConcurrency = 64
	}
	e := &env{opt: opt, clock: newClock(), progress: opt.Progress}
	if e.progress == nil {
		e.progress = io.Discard
	}
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	// Fresh user names each run, so a --target server can be reused.
	e.prefix = "bench" + hex.EncodeToString(suffix[:]) + "u"
	e.http = &http.Client{Transport: &http.Transport{
		MaxIdleConns: opt.SetupConcurrency, MaxIdleConnsPerHost: opt.SetupConcurrency,
		IdleConnTimeout: 30 * time.Second,
	}}
	defer e.http.CloseIdleConnections()

	r := &Report{Scenario: sc.Name(), Params: sc, StartedAt: time.Now().UTC(), Machine: thisMachine(), Generator: GeneratorSDK}
	if g, ok := sc.(interface{ generator() string }); ok {
		r.Generator = g.generator()
	}
	switch {
	case opt.Target != "":
		e.url = strings.TrimRight(opt.Target, "/")
		e.pid = opt.ServerPID
		r.Server.Mode = "target"
	case opt.ServerExe != "":
		pprof := opt.Pprof || opt.CPUProfile != ""
		e.logf("starting %s serve (password hashing cheapened for setup only)", opt.ServerExe)
		c, err := startChild(ctx, opt.ServerExe, opt.ServerArgs, pprof)
		if err != nil {
			return nil, err
		}
		defer func() {
			if err := c.stop(); err != nil {
				e.logf("stopping the server: %v", err)
			}
		}()
		e.child, e.url, e.pid = c, c.url, c.cmd.Process.Pid
		e.logf("server at %s, pid %d, data in %s", e.url, e.pid, c.dir)
		r.Server.Mode = "child"
		r.Notes = append(r.Notes, "child server runs with "+strings.Join(ChildArgs, " ")+
			": cheap password hashing only speeds up setup (no measured path hashes a password)")
	default:
		return nil, errors.New("bench: neither a target URL nor a server binary")
	}
	r.Server.URL, r.Server.PID = e.url, e.pid
	if e.pid != 0 {
		if n, err := procFileLimit(e.pid); err == nil {
			r.Server.OpenFileLimit = &n
		}
	}
	if n, err := procFileLimit(os.Getpid()); err == nil {
		r.Client.OpenFileLimit = &n
	}
	err := sc.run(ctx, e, r)
	if e.child != nil {
		if cerr := e.child.exited(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}
	if err != nil {
		return r, fmt.Errorf("%s: %w", sc.Name(), err)
	}
	return r, nil
}

// env is one run's server and shared setup.
type env struct {
	opt      Options
	url      string
	pid      int // server pid, 0 if unknown
	child    *child
	clock    clock
	prefix   string
	http     *http.Client // for setup calls
	progress io.Writer
}

func (e *env) logf(format string, args ...any) {
	fmt.Fprintf(e.progress, "bench: "+format+"\n", args...)
}

// measure is the measured phase: it samples both processes' CPU time at
// its ends and records the server's CPU profile meanwhile.
type measure struct {
	e      *env
	start  time.Time
	srvCPU float64
	srvOK  bool
	// srvWrites is the server's write syscalls so far (/proc/PID/io).
	srvWrites int64
	writesOK  bool
	cliCPU    float64
	all       float64 // machineBusy at the start; -1 if unknown
	profile   chan error
	// commits is the server's commit histograms at the start; scraped
	// false if /metrics did not answer.
	commits commitScrape
	scraped bool
	// writes and frames are the server's socket writes and frames sent
	// at the start (/metrics).
	writes, frames float64
	writesScraped  bool
}

// begin opens the measured phase. expected is how long the phase should
// last, the default length of the CPU profile.
func (e *env) begin(ctx context.Context, expected time.Duration) *measure {
	m := &measure{e: e, start: time.Now(), cliCPU: selfCPU(), all: -1}
	if v, err := machineBusy(); err == nil {
		m.all = v
	}
	if e.pid != 0 {
		if v, err := procCPU(e.pid); err == nil {
			m.srvCPU, m.srvOK = v, true
		}
		if v, err := procWrites(e.pid); err == nil {
			m.srvWrites, m.writesOK = v, true
		}
	}
	m.commits, m.scraped = e.scrapeCommits(ctx)
	m.writes, m.frames, m.writesScraped = e.scrapeWrites(ctx)
	if e.opt.CPUProfile != "" {
		secs := e.opt.CPUProfileSeconds
		if secs <= 0 {
			secs = int(min(max(expected, time.Second), 30*time.Second).Round(time.Second) / time.Second)
		}
		m.profile = make(chan error, 1)
		go func() { m.profile <- e.fetchProfile(ctx, secs) }()
	}
	return m
}

// end closes the measured phase and fills the report's window, usage and
// commits. The CPU profile, if one is being taken, is awaited by finish.
func (m *measure) end(ctx context.Context, r *Report) time.Duration {
	d := time.Since(m.start)
	if m.scraped {
		if after, ok := m.e.scrapeCommits(ctx); ok {
			c, err := commitsBetween(m.commits, after, d)
			if err != nil {
				r.Notes = append(r.Notes, "commit histograms: "+err.Error())
			}
			r.Commits = c
		}
	}
	if m.writesScraped {
		if w, f, ok := m.e.scrapeWrites(ctx); ok {
			r.Server.SocketWrites, r.Server.FramesSent = ptr(int64(w-m.writes)), ptr(int64(f-m.frames))
		}
	}
	r.Window = d.Seconds()
	cli := selfCPU() - m.cliCPU
	r.Client.PID = os.Getpid()
	r.Client.CPUSeconds, r.Client.CPUCores = &cli, ptr(cli/d.Seconds())
	if m.srvOK {
		if v, err := procCPU(m.e.pid); err == nil {
			s := v - m.srvCPU
			r.Server.CPUSeconds, r.Server.CPUCores = &s, ptr(s/d.Seconds())
		}
	}
	if m.writesOK {
		if v, err := procWrites(m.e.pid); err == nil {
			r.Server.WriteSyscalls = ptr(v - m.srvWrites)
		}
	}
	// Everything else the machine ran meanwhile: on a shared machine, a
	// busy neighbour shows here rather than as a slow server.
	if v, err := machineBusy(); err == nil && m.all >= 0 {
		other := v - m.all - cli
		if r.Server.CPUSeconds != nil && r.Server.Mode == "child" {
			other -= *r.Server.CPUSeconds
		}
		r.Machine.OtherCPUCores = ptr(max(0, other/d.Seconds()))
	}
	if m.e.pid != 0 {
		if rss, hwm, err := procMem(m.e.pid); err == nil {
			r.Server.RSS, r.Server.PeakRSS = &rss, &hwm
		}
	}
	return d
}

// finish waits for the CPU profile, if any.
func (m *measure) finish(r *Report) error {
	if m.profile == nil {
		return nil
	}
	if err := <-m.profile; err != nil {
		return err
	}
	r.Notes = append(r.Notes, "server CPU profile written to "+m.e.opt.CPUProfile+" (go tool pprof -top "+m.e.opt.CPUProfile+")")
	return nil
}

func (e *env) fetchProfile(ctx context.Context, secs int) error {
	url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", e.url, secs)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("cpu profile: %s answered %s (is the server running with --pprof?)", url, resp.Status)
	}
	f, err := os.Create(e.opt.CPUProfile)
	if err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return fmt.Errorf("cpu profile: %w", err)
	}
	return f.Close()
}

// serverRSS samples the server's resident set now.
func (e *env) serverRSS() (int64, bool) {
	if e.pid == 0 {
		return 0, false
	}
	rss, _, err := procMem(e.pid)
	return rss, err == nil
}

func ptr[T any](v T) *T { return &v }

// Dur is a duration that reports itself in seconds in JSON.
type Dur time.Duration

// MarshalJSON writes the duration in seconds.
func (d Dur) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(time.Duration(d).Seconds(), 'f', -1, 64)), nil
}

func (d Dur) String() string { return time.Duration(d).String() }
