package chaos

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// A Fault is one planned failure: what, to whom, when and for how long.
type Fault struct {
	At     time.Duration // from the start of traffic
	Kind   string
	Target int           // node index (kill, pause, drop, delay)
	For    time.Duration // how long it lasts (kill, pause, redis, postgres, delay)
	Delay  time.Duration // added to each chunk crossing the proxy (delay)
	// InFlight (kill) waits, up to a second, for a send to the node to be
	// waiting for its ack: the instant between commit and ack is the one
	// a crash must not lose, and a kill at a random time rarely hits it.
	InFlight bool
}

// The kinds of fault.
const (
	FaultKill     = "kill"     // SIGKILL a node, start it again after For
	FaultPause    = "pause"    // SIGSTOP a node, SIGCONT after For
	FaultRedis    = "redis"    // SIGKILL Redis (it keeps nothing), start it again after For
	FaultPostgres = "postgres" // cut every node from PostgreSQL and refuse it for For
	FaultDrop     = "drop"     // reset every client connection to a node
	FaultDelay    = "delay"    // slow a node's client connections by Delay for For
	FaultClock    = "clock"    // step every node's clock forward
)

// String names the fault as the ledger does.
func (f Fault) String() string {
	switch f.Kind {
	case FaultRedis, FaultPostgres:
		return fmt.Sprintf("%s for %s", f.Kind, f.For)
	case FaultClock:
		return f.Kind
	case FaultDrop:
		return fmt.Sprintf("%s node %d", f.Kind, f.Target)
	case FaultDelay:
		return fmt.Sprintf("%s node %d by %s for %s", f.Kind, f.Target, f.Delay, f.For)
	}
	if f.InFlight {
		return fmt.Sprintf("%s node %d mid-send for %s", f.Kind, f.Target, f.For)
	}
	return fmt.Sprintf("%s node %d for %s", f.Kind, f.Target, f.For)
}

// ScheduleConfig shapes a fault schedule.
type ScheduleConfig struct {
	Duration   time.Duration // of the traffic
	Every      time.Duration // mean time between faults
	ClockEvery time.Duration // time between clock steps (0: none)
	Nodes      int
	Cluster    bool // Redis and PostgreSQL faults too
}

// Schedule plans the faults of a run from its seed alone, so a run that
// found a bug can be replayed with the same plan.
func Schedule(seed uint64, c ScheduleConfig) []Fault {
	r := rand.New(rand.NewPCG(seed, 7))
	type kind struct {
		name   string
		weight int
	}
	kinds := []kind{{FaultKill, 3}, {FaultPause, 2}, {FaultDrop, 3}, {FaultDelay, 2}}
	if c.Cluster {
		kinds = append(kinds, kind{FaultRedis, 1}, kind{FaultPostgres, 1})
	}
	total := 0
	for _, k := range kinds {
		total += k.weight
	}
	var out []Fault
	// Faults leave the last fifth of the traffic alone only by chance:
	// the run heals everything when the traffic ends anyway.
	for at := time.Duration(0); ; {
		at += time.Duration(r.ExpFloat64() * float64(c.Every))
		if at >= c.Duration {
			break
		}
		pick := r.IntN(total)
		var k string
		for _, kk := range kinds {
			if pick < kk.weight {
				k = kk.name
				break
			}
			pick -= kk.weight
		}
		f := Fault{At: at, Kind: k, Target: r.IntN(c.Nodes)}
		switch k {
		case FaultKill:
			f.For = between(r, time.Second, 5*time.Second)
			f.InFlight = r.IntN(2) == 0
		case FaultPause:
			f.For = between(r, time.Second, 8*time.Second)
		case FaultRedis:
			f.For = between(r, 500*time.Millisecond, 3*time.Second)
		case FaultPostgres:
			f.For = between(r, time.Second, 6*time.Second)
		case FaultDelay:
			f.For = between(r, 3*time.Second, 10*time.Second)
			f.Delay = between(r, 50*time.Millisecond, 400*time.Millisecond)
		}
		out = append(out, f)
	}
	if c.ClockEvery > 0 {
		for at := c.ClockEvery; at < c.Duration; at += c.ClockEvery {
			out = append(out, Fault{At: at, Kind: FaultClock})
		}
	}
	sortFaults(out)
	return out
}

func between(r *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.Int64N(int64(hi-lo)))
}

func sortFaults(fs []Fault) {
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && fs[j].At < fs[j-1].At; j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}

// injector carries out a schedule on an Env. One fault at a time per
// target: a fault whose target is busy waits for it.
type injector struct {
	env  *Env
	led  *Ledger
	log  *slog.Logger
	step time.Duration // each clock step
	// aroundClock, if set, runs each clock step (its argument).
	aroundClock func(ctx context.Context, step func() error) error
	// inFlight, if set, tells how many sends to a node wait for an ack.
	inFlight func(node int) int64

	nodes []sync.Mutex
	front []sync.Mutex
	redis sync.Mutex
	pg    sync.Mutex

	mu     sync.Mutex
	offset time.Duration
	count  map[string]int
}

func newInjector(env *Env, led *Ledger, log *slog.Logger, step time.Duration) *injector {
	return &injector{env: env, led: led, log: log, step: step,
		nodes: make([]sync.Mutex, len(env.Nodes)), front: make([]sync.Mutex, len(env.Front)), count: map[string]int{}}
}

// run injects the faults at their times until ctx ends; a fault under way
// then ends at once, healed. It returns when every fault has healed.
func (in *injector) run(ctx context.Context, faults []Fault) {
	start := time.Now()
	var wg sync.WaitGroup
	for _, f := range faults {
		if !sleep(ctx, time.Until(start.Add(f.At))) {
			break
		}
		wg.Go(func() { in.inject(ctx, f) })
	}
	<-ctx.Done() // the traffic goes on to its end after the last fault
	wg.Wait()
}

func (in *injector) inject(ctx context.Context, f Fault) {
	var lock func()
	switch f.Kind {
	case FaultKill, FaultPause:
		in.nodes[f.Target].Lock()
		lock = in.nodes[f.Target].Unlock
	case FaultDrop, FaultDelay:
		in.front[f.Target].Lock()
		lock = in.front[f.Target].Unlock
	case FaultRedis:
		in.redis.Lock()
		lock = in.redis.Unlock
	case FaultPostgres:
		in.pg.Lock()
		lock = in.pg.Unlock
	case FaultClock:
		// Every node and service up, so all nodes step together and the
		// snapshot before the step can be read. Always nodes, then Redis,
		// then PostgreSQL: the others take one lock each.
		for i := range in.nodes {
			in.nodes[i].Lock()
		}
		in.redis.Lock()
		in.pg.Lock()
		lock = func() {
			in.pg.Unlock()
			in.redis.Unlock()
			for i := range in.nodes {
				in.nodes[i].Unlock()
			}
		}
	}
	defer lock()
	if ctx.Err() != nil {
		return
	}
	target := fmt.Sprint(f.Target)
	switch f.Kind {
	case FaultRedis, FaultPostgres:
		target = f.Kind
	case FaultClock:
		target = "all"
	}
	in.led.Add(Event{Kind: KindFault, Op: "start", Fault: f.Kind, Target: target})
	in.log.Info("fault", "fault", f.String())
	in.mu.Lock()
	in.count[f.Kind]++
	in.mu.Unlock()
	// Heal with a context of its own: the run's ending must not leave a
	// node dead or frozen.
	heal := context.WithoutCancel(ctx)
	var err error
	switch f.Kind {
	case FaultKill:
		n := in.env.Nodes[f.Target]
		if f.InFlight && in.inFlight != nil {
			for deadline := time.Now().Add(time.Second); in.inFlight(f.Target) == 0 && time.Now().Before(deadline); {
				time.Sleep(100 * time.Microsecond)
			}
		}
		n.kill()
		sleep(ctx, f.For)
		err = n.Restart(heal)
	case FaultPause:
		n := in.env.Nodes[f.Target]
		n.pause()
		sleep(ctx, f.For)
		n.resume()
	case FaultRedis:
		in.env.Redis.kill()
		sleep(ctx, f.For)
		err = in.env.Redis.Start(heal)
	case FaultPostgres:
		in.env.PG.Refuse()
		sleep(ctx, f.For)
		in.env.PG.Accept()
	case FaultDrop:
		in.env.Front[f.Target].Drop()
	case FaultDelay:
		p := in.env.Front[f.Target]
		p.SetDelay(f.Delay)
		sleep(ctx, f.For)
		p.SetDelay(0)
	case FaultClock:
		step := func() error { return in.stepClocks(heal) }
		if in.aroundClock != nil {
			err = in.aroundClock(heal, step)
		} else {
			err = step()
		}
	}
	e := Event{Kind: KindFault, Op: "end", Fault: f.Kind, Target: target}
	if err != nil {
		e.Err = err.Error()
		in.log.Error("fault did not heal", "fault", f.String(), "err", err)
	}
	in.led.Add(e)
}

func (in *injector) stepClocks(ctx context.Context) error {
	// All nodes step, or the run's record of the clocks is wrong.
	for _, n := range in.env.Nodes {
		if !n.running() {
			if err := n.Restart(ctx); err != nil {
				return err
			}
		}
	}
	in.mu.Lock()
	in.offset += in.step
	offset := in.offset
	in.mu.Unlock()
	for _, n := range in.env.Nodes {
		if err := n.Advance(ctx, in.step); err != nil {
			return err
		}
	}
	in.led.Add(Event{Kind: KindClock, Offset: offset.Milliseconds()})
	return nil
}

func (in *injector) counts() map[string]int {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := map[string]int{}
	for k, v := range in.count {
		out[k] = v
	}
	return out
}
