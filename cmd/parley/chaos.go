package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/parleychat/parley/internal/chaos"
)

// chaosCmd runs `parley chaos [flags]` (a run) or `parley chaos check
// LEDGER` (the checker alone, on a ledger a run wrote).
func chaosCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "check" {
		return chaosCheck(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("parley chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opt chaos.Options
	seed := fs.Uint64("seed", 0, "seed of the fault schedule and the workload (0: from the time; printed either way)")
	fs.DurationVar(&opt.Duration, "duration", 2*time.Minute, "traffic under faults; the drain and the checks come after")
	fs.IntVar(&opt.Nodes, "nodes", 1, "server processes (more than one needs --postgres)")
	fs.StringVar(&opt.Postgres, "postgres", "", "run a cluster: an admin URL of a PostgreSQL server to create the run's database on (postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable); the run starts its own redis-server and versitygw")
	fs.DurationVar(&opt.FaultEvery, "fault-every", 6*time.Second, "mean time between faults")
	fs.DurationVar(&opt.ClockEvery, "clock-every", 0, "time between steps of the servers' clocks past the retention (default: one step halfway; negative: none)")
	fs.DurationVar(&opt.Retention, "retention", time.Hour, "the servers' --retention (a clock step is this plus a minute)")
	fs.IntVar(&opt.GroupSize, "group-size", 8, "the servers' --max-group-size: groups are kept near it")
	fs.DurationVar(&opt.Drain, "drain", 2*time.Minute, "longest wait for everything to settle after the faults, and again after the final reads")
	fs.IntVar(&opt.Workload.Users, "users", 12, "simulated people")
	fs.IntVar(&opt.Workload.Groups, "groups", 3, "groups among them")
	fs.DurationVar(&opt.Workload.SendEvery, "send-every", 1500*time.Millisecond, "mean pause between one device's messages")
	fs.DurationVar(&opt.Workload.MediaEvery, "media-every", 10*time.Second, "mean pause between image messages, all users together (0: none)")
	fs.StringVar(&opt.Dir, "dir", "", "where the nodes' data and logs and the ledger go (default: a new temporary directory, kept)")
	bin := fs.String("bin", "", "the parley binary the nodes run (default: this one)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: parley chaos [flags]
       parley chaos check [--retention D --group-size N] LEDGER

Runs simulated users against real server processes while a seeded schedule
kills, pauses, cuts off and slows them, then checks from the ledger of what
the clients saw that nothing acknowledged was lost, duplicated or reordered
(docs/RELIABILITY.md). Exits 1 on a violation.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "parley chaos: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if opt.Nodes > 1 && opt.Postgres == "" {
		fmt.Fprintln(stderr, "parley chaos: --nodes above 1 needs --postgres")
		return 2
	}
	opt.Seed = *seed
	if opt.Seed == 0 {
		opt.Seed = uint64(time.Now().UnixNano())
	}
	switch {
	case opt.ClockEvery == 0:
		opt.ClockEvery = opt.Duration/2 + 1
	case opt.ClockEvery < 0:
		opt.ClockEvery = 0
	}
	opt.Bin = *bin
	if opt.Bin == "" {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintln(stderr, "parley chaos:", err)
			return 1
		}
		opt.Bin = exe
	}
	if opt.Dir == "" {
		d, err := os.MkdirTemp("", "parley-chaos-")
		if err != nil {
			fmt.Fprintln(stderr, "parley chaos:", err)
			return 1
		}
		opt.Dir = d
	} else if err := os.MkdirAll(opt.Dir, 0o755); err != nil {
		fmt.Fprintln(stderr, "parley chaos:", err)
		return 1
	}
	ledger, err := os.Create(filepath.Join(opt.Dir, "ledger.jsonl"))
	if err != nil {
		fmt.Fprintln(stderr, "parley chaos:", err)
		return 1
	}
	defer ledger.Close()
	opt.Ledger = ledger
	opt.Log = slog.New(slog.NewTextHandler(stderr, nil))
	opt.Log.Info("chaos run", "seed", opt.Seed, "duration", opt.Duration, "nodes", opt.Nodes,
		"cluster", opt.Postgres != "", "dir", opt.Dir)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := chaos.Run(ctx, opt)
	if err != nil {
		fmt.Fprintf(stderr, "parley chaos: %v (seed %d, dir %s)\n", err, opt.Seed, opt.Dir)
		return 1
	}
	fmt.Fprintf(stdout, "seed %d, %s of traffic on %d node(s), %d events, ledger %s\n",
		opt.Seed, opt.Duration, opt.Nodes, res.Events, filepath.Join(opt.Dir, "ledger.jsonl"))
	fmt.Fprintf(stdout, "faults injected: %v\n", res.Injected)
	res.Report.Write(stdout)
	if !res.Report.OK() {
		return 1
	}
	return 0
}

func chaosCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("parley chaos check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	retention := fs.Duration("retention", time.Hour, "the run's --retention")
	groupSize := fs.Int("group-size", 8, "the run's --group-size")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: parley chaos check [--retention D --group-size N] LEDGER")
		return 2
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "parley chaos check:", err)
		return 1
	}
	defer f.Close()
	events, err := chaos.ReadLedger(f)
	if err != nil {
		fmt.Fprintln(stderr, "parley chaos check:", err)
		return 1
	}
	rep := chaos.Check(events, chaos.CheckConfig{Retention: *retention, MaxGroupSize: *groupSize})
	rep.Write(stdout)
	if !rep.OK() {
		return 1
	}
	return 0
}
