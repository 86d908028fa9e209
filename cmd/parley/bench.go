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
	"strings"
	"syscall"
	"time"

	harness "github.com/parleychat/parley/internal/bench"
)

// bench runs `parley bench SCENARIO [flags]`: the load harness of
// internal/bench against a child `parley serve` (this same binary) or,
// with --target, an existing server.
func bench(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		benchUsage(stderr)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			return 0
		}
		return 2
	}
	sc, err := harness.Lookup(args[0])
	if err != nil {
		fmt.Fprintln(stderr, "parley bench:", err)
		return 2
	}
	fs := flag.NewFlagSet("parley bench "+sc.Name(), flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opt harness.Options
	var serverArgs, nodes stringList
	fs.StringVar(&opt.Target, "target", "", "base URL of a running server (http://host:port); default: start `parley serve` as a child")
	fs.Var(&nodes, "node", "another node of the --target's cluster (repeat it): users are spread over the nodes, a pair's two users on different ones")
	fs.IntVar(&opt.ServerPID, "server-pid", 0, "pid of the --target server, to report its CPU and memory")
	fs.Var(&serverArgs, "server-arg", "extra flag for the child server (repeat it: --server-arg=--max-batch=1024)")
	fs.BoolVar(&opt.Pprof, "pprof", false, "start the child server with --pprof")
	fs.StringVar(&opt.CPUProfile, "cpuprofile", "", "write the server's CPU profile of the measured phase to this file")
	fs.IntVar(&opt.CPUProfileSeconds, "cpuprofile-seconds", 0, "length of that profile (default: the measured phase, at most 30)")
	fs.IntVar(&opt.SetupConcurrency, "setup-concurrency", 64, "parallel registrations, logins and dials during setup")
	fs.IntVar(&opt.SourceAddrs, "source-addrs", 0, "loopback source addresses to spread connections over (default: one per 20,000)")
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	generator := scenarioFlags(fs, sc)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: parley bench %s [flags]\n\n", sc.Name())
		if generator == nil {
			fmt.Fprintf(stderr, "Its connections always go through the client SDK: it carries no messages, so it has no\n"+
				"--generator (lean is for throughput, latency, fanout and drain).\n\n")
		}
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "parley bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if generator != nil && *generator != harness.GeneratorLean && *generator != harness.GeneratorSDK {
		fmt.Fprintf(stderr, "parley bench: --generator %q: want %s or %s\n", *generator, harness.GeneratorLean, harness.GeneratorSDK)
		return 2
	}
	opt.ServerArgs, opt.Nodes = serverArgs, nodes
	if len(nodes) > 0 && opt.Target == "" {
		fmt.Fprintln(stderr, "parley bench: --node needs --target")
		return 2
	}
	if !*quiet {
		opt.Progress = stderr
	}
	if opt.Target == "" {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintln(stderr, "parley bench: find this binary to start the server:", err)
			return 1
		}
		opt.ServerExe = exe
	}
	raiseFileLimit(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := harness.Run(ctx, opt, sc)
	if err != nil {
		fmt.Fprintln(stderr, "parley bench:", err)
		return 1
	}
	if *asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteTable(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "parley bench:", err)
		return 1
	}
	return 0
}

// scenarioFlags binds the scenario's parameters to flags, with its
// defaults. It returns the scenario's generator mode, nil for the
// scenarios that carry no messages and always use the SDK.
func scenarioFlags(fs *flag.FlagSet, sc harness.Scenario) (generator *string) {
	dur := func(d *harness.Dur, name, usage string) {
		fs.DurationVar((*time.Duration)(d), name, time.Duration(*d), usage)
	}
	receipts := func(read *bool, every *harness.Dur, batch *int) {
		fs.BoolVar(read, "read", *read, "recipients send read_receipt after delivery_ack, as with the chat open")
		dur(every, "ack-every", "recipients acknowledge at least this often")
		fs.IntVar(batch, "ack-batch", *batch, "… or as soon as this many messages are unacknowledged (at most 1000)")
	}
	gen := func(mode *string) *string {
		fs.StringVar(mode, "generator", *mode, "how the measured traffic is generated: "+harness.GeneratorLean+
			" (the harness's own WebSocket client: frames from templates, only the measured fields read) or "+
			harness.GeneratorSDK+" (the client SDK, every frame decoded); setup always uses the SDK")
		return mode
	}
	switch p := sc.(type) {
	case *harness.Throughput:
		fs.IntVar(&p.Pairs, "pairs", p.Pairs, "sender/recipient pairs, each a 1:1 conversation")
		fs.IntVar(&p.Window, "window", p.Window, "messages each sender keeps in flight (the server allows 256)")
		dur(&p.Duration, "duration", "measured phase")
		dur(&p.Warmup, "warmup", "warm-up before it")
		fs.IntVar(&p.ContentBytes, "content-bytes", p.ContentBytes, "message content size")
		receipts(&p.Read, &p.AckEvery, &p.AckBatch)
		return gen(&p.Generator)
	case *harness.Latency:
		fs.IntVar(&p.Users, "users", p.Users, "online users, in pairs")
		fs.Float64Var(&p.Rate, "rate", p.Rate, "total messages per second, open loop")
		dur(&p.Duration, "duration", "measured phase")
		dur(&p.Warmup, "warmup", "warm-up before it")
		fs.IntVar(&p.ContentBytes, "content-bytes", p.ContentBytes, "message content size")
		receipts(&p.Read, &p.AckEvery, &p.AckBatch)
		return gen(&p.Generator)
	case *harness.Fanout:
		fs.IntVar(&p.Senders, "senders", p.Senders, "senders, each with its own group")
		fs.IntVar(&p.GroupSize, "group-size", p.GroupSize, "members per group, the sender included (2 falls back to 1:1 without group support)")
		fs.IntVar(&p.Window, "window", p.Window, "messages each sender keeps in flight")
		dur(&p.Duration, "duration", "measured phase")
		dur(&p.Warmup, "warmup", "warm-up before it")
		fs.IntVar(&p.ContentBytes, "content-bytes", p.ContentBytes, "message content size")
		receipts(&p.Read, &p.AckEvery, &p.AckBatch)
		return gen(&p.Generator)
	case *harness.Connections:
		fs.IntVar(&p.Conns, "conns", p.Conns, "idle connections")
		fs.IntVar(&p.DevicesPerUser, "devices-per-user", p.DevicesPerUser, "connections per user, each its own login (at most the server's --max-devices)")
		dur(&p.Heartbeat, "heartbeat", "heartbeat interval of each connection")
		fs.IntVar(&p.DialConcurrency, "dial-concurrency", p.DialConcurrency, "dials in flight")
		dur(&p.Hold, "hold", "how long the connections stay idle before the server's memory is read")
		return gen(&p.Generator)
	case *harness.Drain:
		fs.IntVar(&p.Messages, "messages", p.Messages, "messages queued for the offline recipient")
		fs.IntVar(&p.Window, "window", p.Window, "messages the sender keeps in flight")
		fs.IntVar(&p.ContentBytes, "content-bytes", p.ContentBytes, "message content size")
		receipts(&p.Read, &p.AckEvery, &p.AckBatch)
		dur(&p.Timeout, "timeout", "bound on queueing and on draining")
		return gen(&p.Generator)
	case *harness.Storm:
		fs.IntVar(&p.Users, "users", p.Users, "users that connect at once")
		fs.IntVar(&p.Concurrency, "concurrency", p.Concurrency, "dials in flight (0: all at once)")
		dur(&p.Timeout, "timeout", "bound on one user's connect")
		return gen(&p.Generator)
	}
	return nil
}

func benchUsage(w io.Writer) {
	fmt.Fprint(w, `usage: parley bench SCENARIO [flags]

Measures a Parley server as its clients would: setup through the public client
SDK, the measured messages through the harness's lean WebSocket client (or,
with --generator sdk, through the SDK, at several times the CPU). By default
it starts its own server (this binary, 'parley serve') on a free loopback port
with a temporary data directory, and reports the server's CPU and memory apart
from its own. With --target it uses a running server instead.

scenarios:
  throughput   pairs of users, each sender keeping a window of messages in flight
  latency      open-loop fixed rate across online users: send→deliver percentiles
  fanout       senders into groups, all members online
  connections  idle authenticated connections: connect rate, server RSS per connection
  drain        a recipient connects to a queue of offline messages
  storm        many users connect at once

Run 'parley bench SCENARIO -h' for its flags. See docs/PERFORMANCE.md.
`)
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, " ") }

func (s *stringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}
