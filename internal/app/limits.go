package app

import (
	"net"
	"net/http"
	"time"

	"github.com/parleychat/parley/internal/api"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/gateway"
	"github.com/parleychat/parley/internal/limits"
	"github.com/parleychat/parley/internal/metrics"
)

// Sizes of the tables behind the per-address and per-account limits: an
// entry is forgotten once its bucket refills or its failures are quiet, so
// only an attacker with this many addresses or usernames in play at once
// reaches the bound (~250 bytes an entry).
const (
	maxAuthAddrs    = 1 << 16
	maxAuthAccounts = 1 << 16
	maxLookupUsers  = 1 << 16
	// maxSenders bounds the users whose send buckets are remembered at
	// once. Only users who sent within the last burst/rate seconds (10 s
	// by default) have one: a full bucket is forgotten.
	maxSenders = 1 << 16
)

// Login failure backoff: the first wait and the longest, which is also the
// quiet time after which an account's failures are forgotten.
const (
	loginBackoff       = time.Minute
	loginBackoffWindow = 15 * time.Minute
)

// readHeaderTimeout bounds the headers of a request (slowloris).
const readHeaderTimeout = 10 * time.Second

// connCaps are the node's connection caps, resolved once at start.
type connCaps struct {
	tcp, tcpPerIP int // at accept time
	ws            int // WebSockets, below tcp so HTTP always has room
	fileLimit     int64
}

func resolveConnCaps(a config.AbuseConfig) connCaps {
	c := connCaps{tcp: a.MaxConns, fileLimit: limits.FileLimit()}
	if c.tcp == config.AutoMaxConns {
		c.tcp = limits.ConnsForFileLimit(c.fileLimit)
	}
	if c.tcp > 0 {
		c.ws = c.tcp - limits.HTTPHeadroom(c.tcp)
	}
	if a.MaxConnsPerIP > 0 {
		// A client address at its WebSocket cap still gets its 429 and
		// makes API calls beside them.
		c.tcpPerIP = a.MaxConnsPerIP + max(8, a.MaxConnsPerIP/4)
	}
	return c
}

// sendRates are the node's per-user send buckets: one instance, shared
// by the WebSocket and the REST send paths.
func sendRates(a config.AbuseConfig) *limits.Rates {
	return limits.NewRates(a.UserSendRate, a.UserSendBurst, maxSenders)
}

func userLimits(a config.AbuseConfig, caps connCaps, sends *limits.Rates) gateway.UserLimits {
	return gateway.UserLimits{
		MaxConns: caps.ws, MaxConnsPerUser: a.MaxConnsPerUser, MaxConnsPerIP: a.MaxConnsPerIP,
		Sends: sends,
	}
}

func authLimits(a config.AbuseConfig, clk clock.Clock, m *metrics.Metrics) api.AuthLimits {
	return api.AuthLimits{
		PerIP:    limits.NewRates(float64(a.AuthRateLimit)/60, a.AuthRateLimit, maxAuthAddrs),
		Accounts: limits.NewFailures(a.LoginFailureLimit, loginBackoff, loginBackoffWindow, maxAuthAccounts),
		Now:      clk.Now,
		Observer: m,
	}
}

func lookupLimits(a config.AbuseConfig, clk clock.Clock) api.LookupLimits {
	return api.LookupLimits{
		PerUser: limits.NewRates(float64(a.LookupRate)/60, a.LookupBurst, maxLookupUsers),
		Now:     clk.Now,
	}
}

// httpServer is the node's HTTP server with its timeouts. net/http clears
// a connection's deadlines when it is hijacked, and coder/websocket times
// its reads and writes with contexts, not deadlines, so none of these
// reach a WebSocket after the upgrade (TestHTTPTimeoutsSpareWebSockets).
func (a *App) httpServer() *http.Server {
	ab := a.cfg.Abuse
	idle := ab.HTTPIdleTimeout
	if idle == 0 {
		idle = -1 // off: zero would fall back to the read timeout
	}
	return &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       ab.HTTPReadTimeout,
		WriteTimeout:      ab.HTTPWriteTimeout,
		IdleTimeout:       idle,
	}
}

// limitListener applies the connection caps to ln; with both off it
// returns ln as it is.
func (a *App) limitListener(ln net.Listener, srv *http.Server) net.Listener {
	if a.caps.tcp == 0 && a.caps.tcpPerIP == 0 {
		return ln
	}
	l := limits.NewListener(ln, limits.ListenerConfig{
		MaxConns: a.caps.tcp, MaxConnsPerIP: a.caps.tcpPerIP,
		Exempt: a.cfg.Abuse.TrustedProxies, Limited: a.metrics.Limited,
	})
	srv.ConnState = l.ConnState
	a.tcp.Store(l)
	return l
}
