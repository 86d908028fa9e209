package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"
)

// Connections is the idle-connection scenario: Conns authenticated
// WebSocket connections that only heartbeat. It measures how fast they
// connect and what each costs the server in resident memory.
type Connections struct {
	Conns int `json:"conns"`
	// DevicesPerUser logs each user in this many times (at most the
	// server's --max-devices): fewer users to register for the same
	// number of connections.
	DevicesPerUser  int `json:"devices_per_user"`
	Heartbeat       Dur `json:"heartbeat_s"`
	DialConcurrency int `json:"dial_concurrency"`
	// Hold is how long the connections stay open, idle, before the
	// server's memory is sampled.
	Hold Dur `json:"hold_s"`
	// Generator is GeneratorLean or GeneratorSDK.
	Generator string `json:"generator"`
}

// DefaultConnections returns the connections scenario's defaults.
func DefaultConnections() *Connections {
	return &Connections{
		Conns: 10_000, DevicesPerUser: 1, Heartbeat: Dur(25 * time.Second),
		DialConcurrency: 100, Hold: Dur(10 * time.Second), Generator: GeneratorLean,
	}
}

// Name implements Scenario.
func (*Connections) Name() string { return "connections" }

func (p *Connections) describe() string {
	return fmt.Sprintf("%d idle connections (%d per user), heartbeat every %s, %d dials at a time, held %s, %s generator",
		p.Conns, p.DevicesPerUser, p.Heartbeat, p.DialConcurrency, p.Hold, p.Generator)
}

// fdMargin is the descriptors a process needs besides the connections:
// listener, database files, setup connections.
const fdMargin = 64

func (p *Connections) run(ctx context.Context, e *env, r *Report) error {
	if p.Conns < 1 || p.DevicesPerUser < 1 || p.Heartbeat <= 0 || p.DialConcurrency < 1 || p.Hold < 0 {
		return errors.New("connections: conns, devices per user, heartbeat and dial concurrency must be positive")
	}
	if err := checkGenerator(p.Generator); err != nil {
		return err
	}
	if err := checkFileLimits(e, p.Conns); err != nil {
		return err
	}
	nusers := (p.Conns + p.DevicesPerUser - 1) / p.DevicesPerUser
	e.logf("setup: %d users, %d connections", nusers, p.Conns)
	users, err := e.newUsers(ctx, nusers)
	if err != nil {
		return err
	}
	devices := make([]*user, 0, p.Conns)
	for _, u := range users {
		devices = append(devices, u)
	}
	for round := 1; round < p.DevicesPerUser && len(devices) < p.Conns; round++ {
		more := min(len(users), p.Conns-len(devices))
		extra := make([]*user, more)
		err := parallel(ctx, more, e.opt.SetupConcurrency, func(ctx context.Context, i int) error {
			s, err := users[i].api.Login(ctx, users[i].Username, password)
			if err != nil {
				return fmt.Errorf("login %s again: %w", users[i].Username, err)
			}
			extra[i] = &user{User: users[i].User, api: users[i].api.WithToken(s.Token)}
			return nil
		})
		if err != nil {
			return err
		}
		devices = append(devices, extra...)
	}
	devices = devices[:p.Conns]
	d, err := e.newDialer(p.Conns)
	if err != nil {
		return err
	}
	r.Notes = append(r.Notes, fmt.Sprintf("connections spread over %d loopback source address(es)", len(d.clients)))

	// The server's baseline: setup's keep-alive connections closed, and a
	// moment for them to be torn down.
	e.http.CloseIdleConnections()
	time.Sleep(time.Second)
	rss0, rssOK := e.serverRSS()

	e.logf("dialing %d connections, %d at a time", p.Conns, p.DialConcurrency)
	conns := make([]idleConn, p.Conns)
	dialLat := make([]int64, p.Conns)
	var dialed atomic.Int64
	m := e.begin(ctx, 10*time.Second)
	start := time.Now()
	err = parallel(ctx, p.Conns, p.DialConcurrency, func(ctx context.Context, i int) error {
		t0 := time.Now()
		c, err := d.dialIdle(ctx, devices[i], p.Generator, time.Duration(p.Heartbeat))
		if err != nil {
			return fmt.Errorf("dial connection %d: %w", i, err)
		}
		dialLat[i] = int64(time.Since(t0))
		conns[i] = c
		if k := dialed.Add(1); p.Conns >= 10_000 && k%int64(p.Conns/5) == 0 {
			e.logf("%d connected", k)
		}
		return nil
	})
	connectTime := time.Since(start)
	defer closeIdle(conns)
	if err != nil {
		m.end(ctx, r)
		return errors.Join(err, m.finish(r))
	}

	// Every connection is served: each answers a heartbeat.
	hbStart := time.Now()
	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = heartbeatAll(hctx, conns)
	cancel()
	hbTime := time.Since(hbStart)
	if err != nil {
		m.end(ctx, r)
		return errors.Join(err, m.finish(r))
	}
	e.logf("all %d connections answered a heartbeat; holding them %s", p.Conns, p.Hold)
	kctx, stopKeepAlive := context.WithCancel(ctx)
	go keepAlive(kctx, conns, time.Duration(p.Heartbeat))
	time.Sleep(time.Duration(p.Hold))
	stopKeepAlive()
	m.end(ctx, r)
	if err := m.finish(r); err != nil {
		return err
	}
	open := 0
	for _, c := range conns {
		select {
		case <-c.done():
		default:
			open++
		}
	}

	dl := summarize(dialLat)
	r.Figures = Figures{
		{Key: "connections", Label: "connections open at the end", Value: float64(open), Unit: ""},
		{Key: "connect_per_s", Label: "connect rate", Value: float64(p.Conns) / connectTime.Seconds(), Unit: "conn/s"},
		{Key: "connect_seconds", Label: "time to connect all", Value: connectTime.Seconds(), Unit: "s"},
		{Key: "heartbeat_round_seconds", Label: "heartbeat round trip, all", Value: hbTime.Seconds(), Unit: "s"},
	}
	r.perConnect(p.Conns)
	if rssOK && r.Server.RSS != nil {
		per := float64(*r.Server.RSS-rss0) / float64(p.Conns)
		r.Figures = append(r.Figures,
			Figure{Key: "server_rss_before_bytes", Label: "server RSS before", Value: float64(rss0), Unit: "B"},
			Figure{Key: "server_rss_after_bytes", Label: "server RSS after", Value: float64(*r.Server.RSS), Unit: "B"},
			Figure{Key: "server_rss_per_conn_bytes", Label: "server RSS per connection", Value: per, Unit: "B"},
		)
	} else {
		r.Notes = append(r.Notes, "server RSS unknown: give --server-pid for a --target server")
	}
	r.Latencies = Distributions{{Key: "dial", Label: "dial (TCP + WebSocket upgrade)", Percentiles: dl}}
	if open != p.Conns {
		r.Notes = append(r.Notes, fmt.Sprintf("%d connections closed before the end", p.Conns-open))
	}
	return nil
}

// checkFileLimits fails early, with the fix, when either process cannot
// hold conns sockets.
func checkFileLimits(e *env, conns int) error {
	self, err := procFileLimit(os.Getpid())
	if err == nil && int64(conns+fdMargin) > self {
		return fmt.Errorf("this process may open %d files (RLIMIT_NOFILE, hard limit included): at most %d connections", self, self-fdMargin)
	}
	if e.pid != 0 {
		srv, err := procFileLimit(e.pid)
		if err == nil && int64(conns+fdMargin) > srv {
			return fmt.Errorf("the server may open %d files (RLIMIT_NOFILE): at most %d connections", srv, srv-fdMargin)
		}
	}
	return nil
}
