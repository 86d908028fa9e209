package gateway

import (
	"net/http"
	"time"

	"github.com/parleychat/parley/internal/limits"
	"github.com/parleychat/parley/wire"
)

// UserLimits bound what one user, or one client address, may hold and send
// on this node, however many connections it spreads over. A zero field is
// off. In a cluster each node counts only its own connections.
type UserLimits struct {
	// MaxConns bounds this node's WebSockets; it sits below the listener's
	// cap on TCP connections, so plain HTTP always has room.
	MaxConns        int
	MaxConnsPerUser int
	MaxConnsPerIP   int
	// Sends bound message frames per user (nil: off); one token opened
	// 10 connections and stored 4,720 messages/s, each connection within
	// its own frame limit. The node's REST sends take from the same
	// buckets, so a user cannot double its rate by using both paths.
	Sends *limits.Rates
}

// userLimits are the gateway's counters for UserLimits.
type userLimits struct {
	conns *limits.Conns
	sends *limits.Rates
}

func newUserLimits(l UserLimits) userLimits {
	return userLimits{
		conns: limits.NewConns(limits.ConnCaps{Total: l.MaxConns, PerUser: l.MaxConnsPerUser, PerIP: l.MaxConnsPerIP}),
		sends: l.Sends,
	}
}

// connRetryAfter is what a refused upgrade is told to wait: connections
// end at their owners' pace, not on a schedule.
const connRetryAfter = 5 * time.Second

// admit counts a WebSocket of userID in before the upgrade, or refuses it
// with rate_limited naming the cap it would pass.
func (g *Gateway) admit(r *http.Request, userID string) (release func(), err error) {
	release, refused := g.users.conns.Open(userID, limits.IPKey(r.RemoteAddr))
	if refused == "" {
		return release, nil
	}
	g.limited("ws_" + refused)
	msg := "this server holds all the connections it can: retry later"
	switch refused {
	case limits.CapPerUser:
		msg = "too many connections for this user: close one first"
	case limits.CapPerIP:
		msg = "too many connections from this address: close one first"
	}
	return nil, wire.RateLimited(msg, connRetryAfter)
}

// allowSend takes one message from userID's send bucket.
func (g *Gateway) allowSend(userID string) error {
	ok, retry := g.users.sends.Take(userID, g.Clock.Now())
	if ok {
		return nil
	}
	g.limited("user_sends")
	return wire.RateLimited("too many messages from this user: resend it later", retry)
}

// limitObserver is the optional power of an Observer to count refusals.
type limitObserver interface{ Limited(limit string) }

func (g *Gateway) limited(limit string) {
	if o, ok := g.Observer.(limitObserver); ok {
		o.Limited(limit)
	}
}
