// Package gateway holds the WebSocket connections: it authenticates them,
// reads and validates client frames, hands them to the domain services, and
// writes events to clients in order through one writer per connection.
package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/errmap"
	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/internal/presence"
	"github.com/parleychat/parley/wire"
)

// Messenger is the messaging service as the gateway uses it.
type Messenger interface {
	Submit(ctx context.Context, m messaging.Message, done func(messaging.AppendResult)) error
	SubmitReceipt(ctx context.Context, r messaging.ReceiptRequest, done func(error)) error
	SubmitUpdate(ctx context.Context, u messaging.UpdateRequest, done func(messaging.UpdateResult)) error
	// OpenStream returns a connected device's delivery state: its order,
	// gap filling, sync on connect and receipt cursor.
	OpenStream(userID, deviceID string) *messaging.Stream
}

// Authenticator resolves tokens to sessions.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (identity.Device, error)
}

// Presence tracks online users and their subscribers, and relays typing.
type Presence interface {
	Connected(ctx context.Context, sub presence.Subscriber) error
	Disconnected(ctx context.Context, userID, deviceID string, timedOut bool)
	Subscribe(ctx context.Context, sub presence.Subscriber, userIDs []string) error
	Unsubscribe(sub presence.Subscriber)
	// ContactChanged re-reads, for sub, the contacts between a and b.
	ContactChanged(ctx context.Context, sub presence.Subscriber, a, b string) error
	// Typing relays a member's typing state to the others; an error
	// (not a member) is answered to the client.
	Typing(ctx context.Context, conversationID, userID, state string) error
	StopTyping(conversationID, userID string)
}

// Router tells a cluster's bus which users have connections on this node
// (nil in the embedded mode, where the hub is the whole bus).
type Router interface {
	Watch(ctx context.Context, userID string)
	Unwatch(ctx context.Context, userID string)
}

// Observer is told what happens, for metrics.
type Observer interface {
	ConnOpened()
	ConnClosed()
	FrameIn(frameType string, bytes int)
	// Written is one socket write of bytes carrying frames frames.
	Written(frames, bytes int)
	SlowConsumer()
}

// Config tunes connections.
type Config struct {
	Limits wire.Limits
	// HeartbeatTimeout closes a connection that sent nothing for this long:
	// it is how half-open connections are found.
	HeartbeatTimeout time.Duration
	// WriteTimeout bounds one write to a client (a batch of frames).
	WriteTimeout time.Duration
	// MaxQueue bounds a connection's send queue; a client further behind
	// is disconnected (its undelivered messages stay queued in the store).
	MaxQueue int
	// MaxInflight bounds a connection's sends awaiting their commit.
	MaxInflight int
	// MaxPendingSends bounds the node's sends awaiting their commit, all
	// connections together; past it a send is refused with rate_limited
	// and retry_after_ms (0: no bound).
	MaxPendingSends int
	// MaxSendWait lowers that bound to what the committer clears in this
	// long at its current rate (0: the count alone).
	MaxSendWait time.Duration
	// RateLimit and RateBurst bound frames per second per connection.
	RateLimit float64
	RateBurst int
	// Users bound connections and sends per user and per client address.
	Users UserLimits
}

// Gateway serves /ws.
type Gateway struct {
	cfg Config
	Deps
	users   userLimits
	pending *admission
	// Buffers lent to connections for one message read or one batch
	// written.
	readBufs, writeBufs *buffers
	// connects runs the store queries of connects.
	connects *workers

	mu       sync.Mutex
	conns    map[*Conn]struct{}
	draining bool
	wg       sync.WaitGroup
	// The periodic session check (StartSessionChecks).
	checkEvery time.Duration
	checkTimer clock.Timer
	// stamps batches connects and closes for the delivery trace (nil
	// without Deps.Connections).
	stamps *stamps
	// obs are the Observer's optional powers (observe.go).
	obs observers
}

// MediaAccess says whether a user may attach a media item to a message:
// it uploaded it, or can see it in one of its conversations.
type MediaAccess interface {
	CanUse(ctx context.Context, userID, mediaID string) error
}

// Publisher delivers events to users' connections on every node.
type Publisher interface {
	Publish(ctx context.Context, userIDs []string, ev *bus.Event)
}

// Deps are what connections talk to. Bus, Router, Media and Observer may
// be nil.
type Deps struct {
	Hub *Hub
	// Bus reaches every node's connections (the hub itself when nil, as
	// in the embedded mode).
	Bus    Publisher
	Router Router
	Auth   Authenticator
	// Sessions, if set, backs StartSessionChecks.
	Sessions SessionChecker
	Messages Messenger
	Presence Presence
	Media    MediaAccess
	Clock    clock.Clock
	Log      *slog.Logger
	Observer Observer
	// Connections, if set, is told when each device connects and
	// disconnects (batched: stamps.go).
	Connections ConnectionLog
}

// New returns a gateway.
func New(cfg Config, d Deps) *Gateway {
	g := &Gateway{
		cfg: cfg, Deps: d, conns: map[*Conn]struct{}{}, users: newUserLimits(cfg.Users),
		pending:  newAdmission(cfg.MaxPendingSends, cfg.MaxSendWait, d.Clock.Now),
		readBufs: newBuffers(1024, 64<<10), writeBufs: newBuffers(4096, maxWriteBuffer+4096),
		connects: newWorkers(connectWorkers),
	}
	g.obs = findObservers(d.Observer)
	if d.Connections != nil {
		g.stamps = newStamps(d.Connections, d.Clock, d.Log)
	}
	return g
}

// ServeHTTP authenticates and upgrades a connection, then hands it to its
// own reader goroutine and returns: net/http's goroutine, request and
// buffers do not outlive the upgrade.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if token == "" {
		token, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	dev, err := g.Auth.Authenticate(r.Context(), token)
	if err != nil {
		errmap.WriteHTTP(w, err)
		return
	}
	release, err := g.admit(r, dev.UserID)
	if err != nil {
		errmap.WriteHTTP(w, err)
		return
	}
	g.mu.Lock()
	if g.draining {
		g.mu.Unlock()
		release()
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	g.wg.Add(1)
	g.mu.Unlock()

	sock, err := upgrade(w, r)
	if err != nil {
		release()
		g.wg.Done()
		return // the client has its answer
	}
	c := newConn(g, sock, dev, release)
	g.mu.Lock()
	g.conns[c] = struct{}{}
	g.mu.Unlock()
	g.open(r.Context(), c)
}

// open makes c reachable, starts its reader and runs its first writer
// (the sync on connect). The connect's work runs here, on net/http's
// goroutine, whose stack goes when the handler returns, not on the
// reader's, which lives as long as the connection.
func (g *Gateway) open(ctx context.Context, c *Conn) {
	ctx = context.WithoutCancel(ctx)
	if g.Observer != nil {
		g.Observer.ConnOpened()
	}
	if g.stamps != nil {
		// Before the hub knows c: what is committed from here on reaches
		// it live, what was committed before, by the sync below.
		g.stamps.connected(c.deviceID)
	}
	// A session that expires while its socket is open ends it, as a
	// revocation does: a token must not outlive its expiry through a
	// connection opened before.
	expiry := g.Clock.AfterFunc(c.expiresAt.Sub(g.Clock.Now()), func() {
		c.kill(CloseRevoked, "session expired: log in again")
	})
	c.stopExpiry = expiry.Stop
	// The first writer (the sync) counts as running from here: events
	// arriving before it starts wait in the queue, behind the sync.
	c.out.start()
	g.Hub.register(c)
	if g.Router != nil {
		g.Router.Watch(ctx, c.userID)
	}
	var startErr error
	g.connects.run(func() {
		if err := g.Presence.Connected(ctx, c); err != nil {
			g.Log.Error("presence on connect", "user", c.userID, "err", err)
		}
		startErr = c.stream.Start(ctx)
	})
	if startErr != nil {
		c.syncFailed(startErr)
	}
	go c.run()
	// The first writer run is this goroutine, which ends when the handler
	// returns: a long offline queue's sync grows a stack that does not
	// outlive it.
	c.writeLoop(true)
}

// closed lets go of a connection whose reader and writer are done.
func (g *Gateway) closed(c *Conn, timedOut bool) {
	ctx := context.Background()
	c.stopExpiry()
	c.stream.Close(ctx, c.pings.confirmed())
	g.Hub.unregister(c)
	if g.Router != nil {
		g.Router.Unwatch(ctx, c.userID)
	}
	g.Presence.Unsubscribe(c)
	if g.stamps != nil {
		// Before presence tells anyone the user went offline: whoever
		// hears it and asks for a trace sees the close.
		g.stamps.closed(c.deviceID)
	}
	g.Presence.Disconnected(ctx, c.userID, c.deviceID, timedOut)
	c.release()
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
	if g.Observer != nil {
		g.Observer.ConnClosed()
	}
	g.wg.Done()
}

// Shutdown stops reading client frames, waits until every accepted send
// has been committed and its ack written, then closes each connection
// with 1001 (going away). Clients resend unacknowledged messages with the
// same client_message_id after they reconnect.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	g.draining = true
	if g.checkTimer != nil {
		g.checkTimer.Stop()
	}
	conns := make([]*Conn, 0, len(g.conns))
	for c := range g.conns {
		conns = append(conns, c)
	}
	g.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { c.drain(ctx) })
	}
	wg.Wait()
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
		// No connect is under way, and none will start.
		g.connects.stop()
		if g.stamps != nil {
			// Every close is stamped: write them while the store is open.
			if err := g.stamps.flush(ctx, true); err != nil {
				g.Log.Error("connection stamps", "err", err)
			}
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Revoke closes the connections of sessions that ended (evicted, signed
// out) with 4001 and reason, on whichever node holds them: the event goes
// through the bus, not only to this node's hub.
func (g *Gateway) Revoke(userID string, deviceIDs []string, reason string) {
	var pub Publisher = g.Hub
	if g.Bus != nil {
		pub = g.Bus
	}
	for _, d := range deviceIDs {
		pub.Publish(context.Background(), []string{userID}, &bus.Event{Kind: bus.KindRevoke, SenderDevice: d, Reason: reason})
	}
}
