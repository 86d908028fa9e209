package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/parleychat/parley/client"
)

// idleConn is a connection of the connections and storm scenarios: it
// only heartbeats.
type idleConn interface {
	// heartbeat sends a heartbeat and waits for its answer.
	heartbeat(ctx context.Context) error
	// done is closed when the connection has ended.
	done() <-chan struct{}
	close()
}

// dialIdle connects u in the given generator mode. An SDK connection
// heartbeats every every on its own (0: only when asked); lean ones are
// heartbeaten by keepAlive.
func (d *dialer) dialIdle(ctx context.Context, u *user, mode string, every time.Duration) (idleConn, error) {
	if mode == GeneratorSDK {
		c, err := d.dial(ctx, u, client.DialOptions{Buffer: 16, Heartbeat: every})
		if err != nil {
			return nil, err
		}
		return sdkIdle{c}, nil
	}
	w, err := d.dialLean(ctx, u)
	if err != nil {
		return nil, err
	}
	c := &leanIdle{w: w, acks: make(chan struct{}, 1)}
	go c.read()
	return c, nil
}

type sdkIdle struct{ c *client.Conn }

func (s sdkIdle) heartbeat(ctx context.Context) error {
	if err := s.c.Heartbeat(ctx); err != nil {
		return err
	}
	_, err := s.c.Next(ctx, "heartbeat_ack")
	return err
}

func (s sdkIdle) done() <-chan struct{} { return s.c.Done() }
func (s sdkIdle) close() {
	// Frames still arriving are discarded: a reader blocked on a full
	// Frames channel would stall the close handshake.
	go func() {
		for range s.c.Frames() {
		}
	}()
	_ = s.c.Close()
}

// leanIdle is an idle connection through the lean generator's framing:
// one goroutine reads, and hands heartbeat answers over.
type leanIdle struct {
	w    *leanWire
	acks chan struct{}
}

var heartbeatFrame = []byte(`{"type":"heartbeat"}`)

func (l *leanIdle) read() {
	var f inFrame
	for l.w.next(&f) {
		if f.kind == kindHeartbeatAck {
			select {
			case l.acks <- struct{}{}:
			default:
			}
		}
	}
}

func (l *leanIdle) heartbeat(ctx context.Context) error {
	if err := l.w.write(heartbeatFrame); err != nil {
		return err
	}
	select {
	case <-l.acks:
		return nil
	case <-l.w.done:
		return errors.New("connection closed before heartbeat_ack")
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *leanIdle) done() <-chan struct{} { return l.w.done }
func (l *leanIdle) close()                { l.w.close() }

// closeIdle closes every connection, many at a time.
func closeIdle(conns []idleConn) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 256)
	for _, c := range conns {
		if c == nil {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c.close()
		})
	}
	wg.Wait()
}

// keepAlive heartbeats the lean connections every interval until ctx
// ends, as clients do while idle (SDK connections do it themselves).
func keepAlive(ctx context.Context, conns []idleConn, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, c := range conns {
			if l, ok := c.(*leanIdle); ok {
				_ = l.w.write(heartbeatFrame)
			}
		}
	}
}

// heartbeatAll has every connection heartbeat, as clients do while idle.
func heartbeatAll(ctx context.Context, conns []idleConn) error {
	return parallel(ctx, len(conns), 1000, func(ctx context.Context, i int) error {
		if err := conns[i].heartbeat(ctx); err != nil {
			return fmt.Errorf("heartbeat on connection %d: %w", i, err)
		}
		return nil
	})
}
