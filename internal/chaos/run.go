// Package chaos runs Parley under faults and checks what it promised: a
// generator of users and devices drives real server processes through
// the public SDK while a seeded schedule kills, pauses, cuts and slows
// them, and everything the clients saw is recorded in a ledger that an
// independent checker reads at the end (docs/RELIABILITY.md).
package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/parleychat/parley/client"
)

// Options configure a run.
type Options struct {
	Bin      string // the parley binary the nodes run
	Dir      string // logs and data; kept after the run
	Seed     uint64
	Duration time.Duration // of traffic under faults
	Nodes    int
	// Postgres, if set, runs a cluster: an admin URL of a PostgreSQL
	// server on which the run creates (and at the end drops) a database;
	// the run starts its own Redis and S3 server.
	Postgres   string
	FaultEvery time.Duration // mean time between faults
	ClockEvery time.Duration // time between clock steps (0: none)
	Retention  time.Duration
	GroupSize  int
	Drain      time.Duration // longest wait for the quiet end
	Workload   WorkloadConfig
	Ledger     io.Writer // also written as JSON lines, if set
	Log        *slog.Logger
}

// Result is what a run did and what the checker found.
type Result struct {
	Faults   []Fault
	Injected map[string]int
	Report   *Report
	Events   int
}

// quiet is how long nothing must arrive for the run to call a phase done.
const quiet = 5 * time.Second

// Run starts the servers, drives the workload under the fault schedule,
// heals everything, lets it settle, and checks the ledger.
func Run(ctx context.Context, opt Options) (*Result, error) {
	if opt.Nodes < 1 {
		return nil, errors.New("chaos: at least one node")
	}
	if opt.Postgres == "" && opt.Nodes > 1 {
		return nil, errors.New("chaos: more than one node needs --postgres (a cluster)")
	}
	log := opt.Log
	led := NewLedger(opt.Ledger)
	phase := func(p string) {
		led.Add(Event{Kind: KindPhase, Phase: p, Created: time.Now().UnixMilli()})
		log.Info("phase", "phase", p)
	}
	phase("setup")
	env, err := StartEnv(ctx, EnvConfig{Bin: opt.Bin, Dir: opt.Dir, Nodes: opt.Nodes, Postgres: opt.Postgres,
		Retention: opt.Retention, GroupSize: opt.GroupSize})
	if err != nil {
		return nil, err
	}
	defer env.Close()
	fronts := make([]string, len(env.Front))
	for i, p := range env.Front {
		fronts[i] = "http://" + p.Addr()
	}
	opt.Workload.GroupSize = opt.GroupSize
	w := NewWorkload(opt.Workload, led, fronts, opt.Seed)
	if err := w.Setup(ctx); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	faults := Schedule(opt.Seed, ScheduleConfig{Duration: opt.Duration, Every: opt.FaultEvery, ClockEvery: opt.ClockEvery,
		Nodes: opt.Nodes, Cluster: opt.Postgres != ""})
	// A step takes every pending message past its retention.
	in := newInjector(env, led, log, opt.Retention+time.Minute)
	in.aroundClock = w.Snapshot
	in.inFlight = w.InFlight

	phase("traffic")
	wctx, stopWork := context.WithCancel(ctx)
	defer stopWork()
	w.Run(wctx)
	fctx, stopFaults := context.WithTimeout(ctx, opt.Duration)
	progress := time.NewTicker(10 * time.Second)
	done := make(chan struct{})
	go func() { in.run(fctx, faults); close(done) }()
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-progress.C:
			log.Info("progress", "events", led.Len(), "pending_sends", w.Pending(), "faults", in.counts())
		}
	}
	stopFaults()
	progress.Stop()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := heal(ctx, env); err != nil {
		return nil, fmt.Errorf("heal: %w", err)
	}

	phase("drain")
	w.Drain()
	if !settle(ctx, w, opt.Drain, true) {
		log.Warn("drain: not quiet in time", "pending_sends", w.Pending())
	}
	phase("read")
	w.eachLive(func(d *device) { d.readAll(ctx) })
	w.eachLive(func(d *device) { d.checkMedia(ctx, 3) })
	if !settle(ctx, w, opt.Drain, false) {
		log.Warn("read: not quiet in time")
	}
	phase("end")
	w.presence(ctx)
	stopWork()
	w.Wait()
	if err := w.history(ctx); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	if err := led.Flush(); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	events := led.Events()
	rep := Check(events, CheckConfig{Retention: opt.Retention, MaxGroupSize: opt.GroupSize})
	return &Result{Faults: faults, Injected: in.counts(), Report: rep, Events: len(events)}, nil
}

// heal brings every node, proxy and service back, whatever faults were
// cut short.
func heal(ctx context.Context, env *Env) error {
	for _, p := range env.Front {
		p.SetDelay(0)
		p.Accept()
	}
	if env.PG != nil {
		env.PG.Accept()
	}
	if env.Redis != nil && !env.Redis.running() {
		if err := env.Redis.Start(ctx); err != nil {
			return err
		}
	}
	for _, n := range env.Nodes {
		n.resume()
		if !n.running() {
			if err := n.Restart(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// settle waits until nothing has arrived for quiet and (if sends is set)
// no send waits for its ack, every live device connected, for at most
// limit. It reports whether it got there.
func settle(ctx context.Context, w *Workload, limit time.Duration, sends bool) bool {
	deadline := time.Now().Add(limit)
	last, since := w.frames.Load(), time.Now()
	for time.Now().Before(deadline) {
		if !sleep(ctx, 250*time.Millisecond) {
			return false
		}
		if n := w.frames.Load(); n != last {
			last, since = n, time.Now()
			continue
		}
		if sends && (w.Pending() > 0 || !w.allConnected()) {
			since = time.Now()
			continue
		}
		if time.Since(since) >= quiet {
			return true
		}
	}
	return false
}

func (w *Workload) live() []*device {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []*device
	for _, d := range w.devices {
		if !d.retire.Load() {
			out = append(out, d)
		}
	}
	return out
}

func (w *Workload) eachLive(f func(*device)) {
	for _, d := range w.live() {
		f(d)
	}
}

func (w *Workload) allConnected() bool {
	for _, d := range w.live() {
		d.mu.Lock()
		up := d.cur != nil
		d.mu.Unlock()
		if !up {
			return false
		}
	}
	return true
}

// history records each conversation's stored log, read by a member who
// has been in it from the start (a 1:1's first member, a group's owner).
func (w *Workload) history(ctx context.Context) error {
	type reader struct {
		conv string
		u    *user
	}
	var rs []reader
	seen := map[string]bool{}
	for _, g := range w.groups {
		rs = append(rs, reader{g.id, g.admins[0]})
		seen[g.id] = true
	}
	for _, u := range w.users {
		for _, c := range u.conversations() {
			if !seen[c] {
				seen[c] = true
				rs = append(rs, reader{c, u})
			}
		}
	}
	slices.SortFunc(rs, func(a, b reader) int { return strings.Compare(a.conv, b.conv) })
	for _, r := range rs {
		if err := w.recordHistory(ctx, r.conv, r.u, "", 0); err != nil {
			return err
		}
	}
	return nil
}

// Snapshot records the groups' logs (phase PhaseSnapshot) and then runs
// step, with membership changes held off throughout: a clock step expires
// the early messages, and with them the record of who was a member when.
func (w *Workload) Snapshot(ctx context.Context, step func() error) error {
	w.memberMu.Lock()
	defer w.memberMu.Unlock()
	for _, g := range w.groups {
		var err error
		for i := range 10 { // a fault on another target may be under way
			if err = w.recordHistory(ctx, g.id, g.admins[0], PhaseSnapshot, i); err == nil {
				break
			}
			if !sleep(ctx, time.Second) {
				return err
			}
		}
		if err != nil {
			return fmt.Errorf("snapshot of %s: %w", g.id, err)
		}
	}
	return step()
}

// recordHistory reads conv's whole history as u, through the node
// numbered attempt (modulo their number), and records it.
func (w *Workload) recordHistory(ctx context.Context, conv string, u *user, phase string, attempt int) error {
	d := w.anyLive(u)
	if d == nil {
		return nil
	}
	c := *d.c
	c.BaseURL = w.fronts[attempt%len(w.fronts)]
	var page []Event
	for after := int64(0); ; {
		msgs, err := c.Messages(ctx, conv, historyPage(after))
		if err != nil {
			return fmt.Errorf("history of %s: %w", conv, err)
		}
		if len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			page = append(page, Event{Kind: KindHistory, Conv: conv, Msg: m.MessageID, Seq: m.SequenceNumber, Sender: m.SenderID,
				MessageType: m.MessageType, Content: m.Content, Created: m.CreatedAt, Phase: phase})
			after = m.SequenceNumber
		}
	}
	// Recorded only once whole: a read cut by a fault is read again.
	for _, e := range page {
		w.led.Add(e)
	}
	return nil
}

// presence records each user's presence as its own device sees it (a
// user always sees its own in full).
func (w *Workload) presence(ctx context.Context) {
	for _, u := range w.users {
		d := w.anyLive(u)
		if d == nil {
			continue
		}
		p, err := d.c.Presence(ctx, u.id)
		if err != nil {
			continue
		}
		w.led.Add(Event{Kind: KindPresence, User: u.id, Status: p.Status})
	}
}

func (w *Workload) anyLive(u *user) *device {
	for _, d := range w.live() {
		if d.user == u {
			return d
		}
	}
	return nil
}

func historyPage(after int64) client.HistoryOptions {
	return client.HistoryOptions{AfterSeq: &after, Limit: 100}
}
