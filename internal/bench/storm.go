package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Storm is the reconnect storm: Users users, registered and logged in
// beforehand, all connect at once (a server restart, a network coming
// back). A user is online once its WebSocket handshake is done and a
// heartbeat has been answered, proof that the server serves it.
type Storm struct {
	Users int `json:"users"`
	// Concurrency bounds dials in flight; 0 starts them all at once.
	Concurrency int `json:"concurrency"`
	// Timeout bounds one user's connect.
	Timeout Dur `json:"timeout_s"`
	// Generator is GeneratorLean or GeneratorSDK.
	Generator string `json:"generator"`
}

// DefaultStorm returns the storm scenario's defaults.
func DefaultStorm() *Storm {
	return &Storm{Users: 10_000, Timeout: Dur(60 * time.Second), Generator: GeneratorLean}
}

// Name implements Scenario.
func (*Storm) Name() string { return "storm" }

func (p *Storm) describe() string {
	c := "all at once"
	if p.Concurrency > 0 {
		c = fmt.Sprintf("%d at a time", p.Concurrency)
	}
	return fmt.Sprintf("%d users connect %s (timeout %s each), %s generator", p.Users, c, p.Timeout, p.Generator)
}

func (p *Storm) run(ctx context.Context, e *env, r *Report) error {
	if p.Users < 1 || p.Concurrency < 0 || p.Timeout <= 0 {
		return errors.New("storm: users and timeout must be positive")
	}
	if err := checkGenerator(p.Generator); err != nil {
		return err
	}
	if err := checkFileLimits(e, p.Users); err != nil {
		return err
	}
	e.logf("setup: %d users", p.Users)
	users, err := e.newUsers(ctx, p.Users)
	if err != nil {
		return err
	}
	d, err := e.newDialer(p.Users)
	if err != nil {
		return err
	}
	e.http.CloseIdleConnections()
	time.Sleep(500 * time.Millisecond)

	conns := make([]idleConn, p.Users)
	lat := make([]int64, 0, p.Users)
	var mu sync.Mutex
	var failed atomic.Int64
	var errs firstError
	slots := p.Concurrency
	if slots == 0 {
		slots = p.Users
	}
	sem := make(chan struct{}, slots)
	go0 := make(chan struct{})
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Go(func() {
			<-go0
			sem <- struct{}{}
			defer func() { <-sem }()
			t0 := time.Now()
			c, err := connectServed(ctx, d, u, p.Generator, time.Duration(p.Timeout))
			if err != nil {
				failed.Add(1)
				errs.set(err)
				return
			}
			el := int64(time.Since(t0))
			mu.Lock()
			conns[i] = c
			lat = append(lat, el)
			mu.Unlock()
		})
	}
	e.logf("storm: %d users connect now", p.Users)
	m := e.begin(ctx, 10*time.Second)
	start := time.Now()
	close(go0)
	wg.Wait()
	all := time.Since(start)
	m.end(ctx, r)
	ferr := m.finish(r)
	closeIdle(conns)
	if ferr != nil {
		return ferr
	}
	ok := int64(p.Users) - failed.Load()
	if ok == 0 {
		return fmt.Errorf("no user came online: %w", errs.get())
	}
	r.Figures = Figures{
		{Key: "online", Label: "users online", Value: float64(ok), Unit: ""},
		{Key: "failed", Label: "users that failed to connect", Value: float64(failed.Load()), Unit: ""},
		{Key: "all_online_seconds", Label: "time until all online", Value: all.Seconds(), Unit: "s"},
		{Key: "connect_per_s", Label: "connect rate", Value: float64(ok) / all.Seconds(), Unit: "conn/s"},
	}
	r.perConnect(int(ok))
	r.Latencies = Distributions{{Key: "online", Label: "dial→heartbeat_ack", Percentiles: summarize(lat)}}
	if err := errs.get(); err != nil {
		r.Notes = append(r.Notes, "first failure: "+err.Error())
	}
	return nil
}

// connectServed dials and waits for the answer to a heartbeat.
func connectServed(ctx context.Context, d *dialer, u *user, mode string, timeout time.Duration) (idleConn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := d.dialIdle(ctx, u, mode, 0)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", u.Username, err)
	}
	if err := c.heartbeat(ctx); err != nil {
		c.close()
		return nil, fmt.Errorf("heartbeat %s: %w", u.Username, err)
	}
	return c, nil
}
