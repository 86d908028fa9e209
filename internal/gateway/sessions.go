package gateway

import (
	"context"
	"time"
)

// SessionChecker tells which sessions still exist.
type SessionChecker interface {
	ExistingDevices(ctx context.Context, deviceIDs []string) (map[string]bool, error)
}

// StartSessionChecks makes the gateway look up, every interval, whether
// the sessions of its open connections still exist, and close with 4001
// those whose session is gone. A revocation normally arrives at once
// through the bus (Revoke); this catches one the bus lost, as Redis pub/sub
// does while a node is cut off from Redis, and sessions deleted by other
// means. It costs one query per interval per node, whatever the number
// of connections (chunked). Runs until Shutdown; interval <= 0 is off.
func (g *Gateway) StartSessionChecks(interval time.Duration) {
	if interval <= 0 || g.Sessions == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.checkEvery = interval
	g.armSessionCheckLocked()
}

func (g *Gateway) armSessionCheckLocked() {
	if g.draining {
		return
	}
	// The check runs in its own goroutine and arms the next one when it
	// is done: with a fake clock moved a month at once, the next check is
	// due an interval after that move, not once per interval of it.
	// Shutdown waits for a check under way (g.wg), so it never queries a
	// store being closed.
	g.checkTimer = g.Clock.AfterFunc(g.checkEvery, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.draining {
			return
		}
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			g.checkSessions()
		}()
	})
}

func (g *Gateway) checkSessions() {
	g.mu.Lock()
	conns := make([]*Conn, 0, len(g.conns))
	ids := make([]string, 0, len(g.conns))
	for c := range g.conns {
		conns = append(conns, c)
		ids = append(ids, c.deviceID)
	}
	g.mu.Unlock()
	if len(ids) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		live, err := g.Sessions.ExistingDevices(ctx, ids)
		cancel()
		if err != nil {
			g.Log.Warn("session check", "err", err)
		} else {
			for _, c := range conns {
				if !live[c.deviceID] {
					c.kill(CloseRevoked, "session ended")
				}
			}
		}
	}
	g.mu.Lock()
	g.armSessionCheckLocked()
	g.mu.Unlock()
}
