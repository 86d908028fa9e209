// Package app wires Parley together: it picks the implementations from the
// configuration once, at start-up, and runs them until told to stop.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/parleychat/parley/internal/accounts"
	"github.com/parleychat/parley/internal/api"
	"github.com/parleychat/parley/internal/blob/local"
	"github.com/parleychat/parley/internal/blocks"
	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/cache"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/contacts"
	"github.com/parleychat/parley/internal/conversations"
	"github.com/parleychat/parley/internal/gateway"
	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/internal/limits"
	"github.com/parleychat/parley/internal/media"
	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/internal/metrics"
	"github.com/parleychat/parley/internal/presence"
	"github.com/parleychat/parley/internal/profiles"
	"github.com/parleychat/parley/internal/push"
	"github.com/parleychat/parley/internal/retention"
	"github.com/parleychat/parley/internal/store/sqlstore"
	"github.com/parleychat/parley/internal/web"
	"github.com/parleychat/parley/internal/webhook"
)

// App is one Parley node.
type App struct {
	cfg     config.Config
	log     *slog.Logger
	store   *sqlstore.Store
	msgs    *messaging.Service
	cleanup *retention.Service
	cluster *cluster // nil in the embedded mode
	pres    *presence.Tracker
	gw      *gateway.Gateway
	metrics *metrics.Metrics
	handler http.Handler
	ready   atomic.Bool
	// serving is closed once Serve is ready (tests wait for it rather
	// than ask /readyz until it says yes).
	serving     chan struct{}
	servingOnce sync.Once
	media       *media.Service
	lock        *dirLock
	api         *api.API
	push        *push.Service
	hooks       *webhook.Service
	devices     devicePresence // what push asks of connections
	caps        connCaps
	tcp         atomic.Pointer[limits.Listener]
	// adminHandler serves the operator's endpoints when --admin-addr is
	// set (admin.go); adminLn is its listener once bound.
	adminHandler http.Handler
	adminLn      net.Listener
	// debugClock is the node's clock when --debug-clock is set and no
	// clock was injected: POST /debug/clock moves it (debugclock.go).
	debugClock *clock.Offset
}

// New opens the store and builds the services. clk may be nil: the wall
// clock, or with --debug-clock the wall clock plus an offset that POST
// /debug/clock moves forward.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, clk clock.Clock) (_ *App, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var debugClock *clock.Offset
	if clk == nil {
		clk = clock.Real{}
		if cfg.DebugClock {
			debugClock = clock.NewOffset(cfg.DebugClockOffset)
			clk = debugClock
		}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	lock, err := lockDataDir(cfg.DataDir, holderLine(cfg.Addr))
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			lock.release()
		}
	}()
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	m := metrics.New()
	ids := identity.NewService(st, clk, identity.Config{
		SessionTTL: cfg.SessionTTL, MaxDevices: cfg.MaxDevices, Hash: cfg.Hash,
		MaxConcurrentHashes: 4, MaxHashQueue: cfg.Abuse.PasswordHashQueue,
		SessionCache: cache.Config{MaxEntries: cfg.SessionCacheEntries, MaxAge: cfg.CacheMaxAge},
	})
	// In the embedded mode the hub of local connections is the bus; in a
	// cluster, Redis carries events and presence between the nodes' hubs.
	hub := gateway.NewHub()
	var (
		pub    publisher = hub
		dir    presence.Directory
		router gateway.Router
		cl     *cluster
	)
	if cfg.Redis != "" {
		if cl, err = newCluster(cfg, hub, log, m); err != nil {
			_ = st.Close()
			return nil, err
		}
		pub, dir, router = cl.bus, cl.dir, cl.bus
	}
	// One committer writes every conversation log: sends, receipts,
	// membership changes' system messages and expiries.
	// A contact chosen (a 1:1 created, a first reply) drops both users'
	// cached contacts on every node before its event goes out.
	contactsPub := &contactsPublisher{publisher: pub}
	// What the committer publishes also wakes the webhooks of the bots
	// it reaches (internal/webhook), once the service exists.
	hookPub := &webhookWaker{publisher: contactsPub}
	committer := messaging.NewCommitter(st, hookPub, clk, messaging.Config{Retention: cfg.Retention, MaxBatch: cfg.MaxBatch}, log, m)
	convs := conversations.NewService(st, committer, hookPub, clk, conversations.Config{Retention: cfg.Retention, MaxGroupSize: cfg.MaxGroupSize})
	pres := presence.NewTracker(st, dir, pub, convs, clk, presence.Config{
		Grace: cfg.PresenceGrace, TypingTimeout: cfg.TypingTimeout,
		SettingsCache: cache.Config{MaxEntries: cfg.PresenceCacheEntries, MaxAge: cfg.CacheMaxAge},
	}, log)
	convs.OnMembersChanged = pres.ForgetMembers
	contactsPub.changed = pres.ContactsChanged
	ids.OnSession = pres.Warm
	if cl != nil {
		// A node that ends a session or saves settings drops its own
		// cache entries; the bus tells every other node to drop theirs.
		ids.Invalidator, pres.Invalidator = cl.bus, cl.bus
		c := caches{sessions: ids, settings: pres}
		cl.bus.HandleInvalidations(c.apply, c.reset)
	}
	a := &App{serving: make(chan struct{}), cfg: cfg, log: log, store: st, metrics: m, cluster: cl, lock: lock, caps: resolveConnCaps(cfg.Abuse), debugClock: debugClock}

	msgs := messaging.NewService(committer, convs)
	msgs.GapFilled = m.GapFilled
	msgs.Presence = pres
	med, blobHandler, err := newMedia(ctx, cfg, st, clk, log)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	if med != nil {
		committer.Media = med
		med.Observer = m
	}
	// One set of per-user send buckets for the node: the WebSocket and
	// the REST send paths take from it alike.
	sends := sendRates(cfg.Abuse)

	pushSvc, devices, err := newPush(cfg, st, hub, cl, clk, log, m)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	// After each commit the publisher hands push the stored messages; it
	// queues them and returns (docs/ARCHITECTURE.md, "Push: telling devices
	// that are not connected").
	committer.Notifier = pushSvc
	a.push, a.devices = pushSvc, devices
	a.hooks = webhook.New(st, committer, clk, webhook.Config{
		Node: webhookNode(cfg), Workers: cfg.Webhook.Workers, Timeout: cfg.Webhook.Timeout,
		RetryFor: cfg.Webhook.RetryFor, Sweep: cfg.Webhook.Sweep, Retention: cfg.Retention,
		AllowInsecureHosts: cfg.Webhook.AllowInsecureHosts,
	}, log, m)
	a.hooks.Window = msgs.Window
	hookPub.hooks = a.hooks
	gw := gateway.New(gateway.Config{
		Limits: cfg.Limits, HeartbeatTimeout: cfg.HeartbeatTimeout, WriteTimeout: cfg.WriteTimeout,
		MaxQueue: cfg.MaxQueue, MaxInflight: cfg.MaxInflight, MaxPendingSends: cfg.Abuse.MaxPendingSends, MaxSendWait: cfg.Abuse.MaxSendWait,
		RateLimit: cfg.RateLimit, RateBurst: cfg.RateBurst, Users: userLimits(cfg.Abuse, a.caps, sends),
	}, gateway.Deps{
		Hub: hub, Bus: pub, Router: router, Auth: ids, Sessions: ids, Messages: msgs, Presence: pres, Media: med,
		Clock: clk, Log: log, Observer: m, Connections: st,
	})
	msgs.FlushConnections = gw.FlushConnections
	ids.OnRevoke = gw.Revoke
	a.cleanup = retention.New(st, committer, med, clk, retention.Config{
		Retention: cfg.Retention, Interval: cfg.CleanupInterval, ExpireInterval: cfg.ExpireInterval, Batch: cfg.CleanupBatch,
	}, log, m)
	m.Counter("parley_store_statements_total", "Statements run on the store outside transactions, each a round trip to the engine.", func() float64 { return float64(st.Statements()) })
	m.Gauge("parley_send_queue_depth", "Sends waiting for the group committer.", func() float64 { return float64(msgs.QueueDepth()) })
	m.Gauge("parley_receipt_queue_depth", "Delivery and read receipts waiting for the group committer.", func() float64 { return float64(msgs.ReceiptQueueDepth()) })
	m.StorePools(st.Pools)
	m.Gauge("parley_sends_pending", "Sends handed to the group committer and not committed yet, the batch committing included (bounded by --max-pending-sends).", func() float64 { return float64(gw.PendingSends()) })
	m.Gauge("parley_password_hashes_waiting", "Logins and registrations waiting for a password hash slot.", func() float64 { return float64(ids.HashesWaiting()) })
	m.Gauge("parley_tcp_connections", "TCP connections the listener holds (counted while a connection cap is on).", func() float64 {
		if l := a.tcp.Load(); l != nil {
			return float64(l.Conns())
		}
		return 0
	})
	a.msgs, a.gw, a.pres, a.media = msgs, gw, pres, med

	mux := http.NewServeMux()
	apiv1 := api.New(ids, convs, msgs, pres, log)
	apiv1.LimitAuth(authLimits(cfg.Abuse, clk, m))
	apiv1.LimitLookups(lookupLimits(cfg.Abuse, clk))
	apiv1.Register(mux)
	a.api = apiv1
	apiv1.RegisterMedia(mux, med, blobHandler != nil && cfg.Media.PublicURL == "")
	// Through contactsPub: an add or a removal drops both users' cached
	// contacts on every node, then re-evaluates their open connections.
	apiv1.RegisterContacts(mux, contacts.NewService(st, contactsPub, clk))
	// A block or an unblock goes the same way: presence and typing of the
	// two read the relation again on every node.
	apiv1.RegisterBlocks(mux, blocks.NewService(st, contactsPub, clk))
	profs := profiles.NewService(st, med, convs, pub)
	apiv1.RegisterProfiles(mux, profs)
	// Deleting an account: identity's one transaction, then its
	// memberships, uploads and avatar (finished by the cleanup if cut short).
	accts := accounts.NewService(ids, convs, med, profs, st, log)
	// A bot is an account whose API key is a session of its own: made and
	// revoked by identity, deleted as an account (with its owner's, too).
	bots := identity.NewBots(ids, st, identity.BotConfig{MaxPerUser: cfg.Abuse.MaxBotsPerUser})
	accts.Bots = bots
	apiv1.RegisterAccounts(mux, accts)
	apiv1.RegisterBots(mux, bots, accts)
	apiv1.RegisterWebhooks(mux, a.hooks, bots)
	a.cleanup.Deletions = accts
	apiv1.RegisterInvites(mux, convs)
	apiv1.RegisterPins(mux, convs)
	apiv1.RegisterDisappearing(mux, convs)
	apiv1.RegisterSend(mux, api.SendDeps{
		Sender: msgs, Media: med, Limits: cfg.Limits, PerUser: sends, Admit: gw.AdmitSend,
		Receipts:   limits.NewRates(cfg.Abuse.UserReceiptRate, cfg.Abuse.UserReceiptBurst, maxSenders),
		StopTyping: pres.StopTyping, Clock: clk,
	})
	apiv1.RegisterServerInfo(mux, a.serverInfo)
	apiv1.RegisterPush(mux, pushSvc)
	api.RegisterSpec(mux) // GET /api/openapi.json and /api/asyncapi.json, public
	if blobHandler != nil {
		mux.Handle(local.Prefix, blobHandler) // signed upload and download URLs of local blobs
	}
	mux.Handle("GET /ws", gw)
	if cfg.AdminAddr == "" {
		a.registerOps(mux) // on the public port, as before --admin-addr
	} else {
		admin := http.NewServeMux()
		a.registerOps(admin)
		a.adminHandler = admin
	}
	// Nothing under /debug/ is the browser client's: a path not served
	// above (pprof without --pprof, the clock without --debug-clock, all
	// of them with --admin-addr) is a 404 whatever the method, where the
	// client's catch-all would answer a POST 405, as if the route existed.
	mux.Handle("/debug/", http.NotFoundHandler())
	mux.Handle("/", web.Handler()) // the browser client; every pattern above is more specific
	var accessLog *slog.Logger
	if cfg.AccessLog {
		accessLog = log
	}
	a.handler = cfg.Abuse.TrustedProxies.Handler(observeHTTP(mux, m, accessLog))
	return a, nil
}

// Serving is closed once Serve is ready: /readyz says so from then on,
// until the shutdown.
func (a *App) Serving() <-chan struct{} { return a.serving }

// Handler is the node's HTTP handler.
func (a *App) Handler() http.Handler { return a.handler }

// Serve serves on ln until ctx is cancelled, then shuts down gracefully:
// no new connections, every accepted send committed and acknowledged,
// connections closed with 1001, the store closed last.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	if _, err := a.ListenAdmin(); err != nil {
		_ = ln.Close()
		return errors.Join(err, a.close())
	}
	adminSrv := a.adminServer()
	srv := a.httpServer()
	srv.ErrorLog = slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)
	ln = a.limitListener(ln, srv)
	a.api.SetListenAddr(ln.Addr())
	a.gw.StartSessionChecks(a.cfg.SessionCheck)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.msgs.Run(context.WithoutCancel(gctx)) })
	g.Go(func() error { return a.cleanup.Run(gctx) })
	g.Go(func() error { return a.push.Run(gctx) })
	g.Go(func() error { return a.hooks.Run(gctx) })
	if a.cluster != nil {
		g.Go(func() error { return a.cluster.bus.Run(gctx) })
		g.Go(func() error { return a.cluster.dir.Run(gctx) })
	}
	if adminSrv != nil {
		adminSrv.ErrorLog = srv.ErrorLog
		g.Go(func() error { return serveAdmin(adminSrv, a.adminLn) })
	}
	g.Go(func() error {
		a.ready.Store(true)
		a.servingOnce.Do(func() { close(a.serving) })
		a.logStart(ln.Addr())
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		a.ready.Store(false)
		sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownGrace)
		defer cancel()
		err := errors.Join(srv.Shutdown(sctx), a.gw.Shutdown(sctx))
		a.msgs.Close()
		a.pres.Close()
		// The admin listener last: /readyz says 503 through the drain. A
		// request still running there (a CPU profile) is cut, not waited
		// for: it is no user's traffic.
		if adminSrv != nil && adminSrv.Shutdown(sctx) != nil {
			_ = adminSrv.Close()
		}
		return err
	})
	return errors.Join(g.Wait(), a.close())
}

// close closes what New opened, Redis and the store, and gives the data
// dir up.
func (a *App) close() error {
	var err error
	if a.cluster != nil {
		err = a.cluster.rdb.Close()
	}
	err = errors.Join(err, a.store.Close())
	a.lock.release()
	return err
}

// RunCleanup runs one retention cleanup pass now.
func (a *App) RunCleanup(ctx context.Context) (retention.Summary, error) {
	return a.cleanup.RunOnce(ctx)
}

// RunExpiry runs one light pass of the cleanup job (tests): the expired
// messages, disappearing ones included, and nothing else.
func (a *App) RunExpiry(ctx context.Context) (retention.Summary, error) {
	return a.cleanup.ExpireOnce(ctx)
}

// Cleanup runs one retention cleanup pass and closes the store: the
// `parley cleanup` command, for a node that does not serve.
func (a *App) Cleanup(ctx context.Context) (retention.Summary, error) {
	// Expiries go through the committer, as they do in a running server.
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.msgs.Run(context.WithoutCancel(ctx))
	}()
	sum, err := a.cleanup.RunOnce(ctx)
	a.msgs.Close()
	<-done
	err = errors.Join(err, a.store.Close())
	a.lock.release()
	return sum, err
}

// ListenAndServe listens on the configured address and serves.
func (a *App) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return a.Serve(ctx, ln)
}

// contactsPublisher is the domain's publisher with one addition: before a
// contact event (bus.KindContact) goes out, the cached contacts of both
// users are dropped, on every node.
type contactsPublisher struct {
	publisher
	changed func(ctx context.Context, userIDs ...string)
}

func (p *contactsPublisher) Publish(ctx context.Context, userIDs []string, ev *bus.Event) {
	if ev.Kind == bus.KindContact && p.changed != nil {
		p.changed(ctx, ev.Chooser, ev.Chosen)
	}
	p.publisher.Publish(ctx, userIDs, ev)
}
