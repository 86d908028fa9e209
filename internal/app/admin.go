package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"
)

// The operator's endpoints — /healthz, /readyz, /metrics and, with
// --pprof, /debug/pprof, with --debug-clock POST /debug/clock — are served on the public listener unless
// --admin-addr names a listener of their own; then only there, and the
// public one answers 404 for them.

// registerOps adds the operator's endpoints to mux.
func (a *App) registerOps(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.Handle("GET /metrics", a.metrics.Handler())
	if a.cfg.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	if a.debugClock != nil {
		mux.HandleFunc("POST /debug/clock", a.advanceClock)
	}
}

// readyTimeout bounds each dependency's check in /readyz.
const readyTimeout = 2 * time.Second

// readiness is /readyz's body.
type readiness struct {
	// Status is "ready" or "unavailable".
	Status string `json:"status"`
	// Down names each part that is not ready (server, store, redis) and
	// why: on the admin listener the error, on the public one only
	// "unreachable", as addresses are no business of the public.
	Down map[string]string `json:"down,omitempty"`
}

// readyz answers 200 while the node serves and its store and (in a
// cluster) Redis answer, else 503 naming what is down.
func (a *App) readyz(w http.ResponseWriter, r *http.Request) {
	down := map[string]string{}
	if !a.ready.Load() {
		down["server"] = "not serving (starting or shutting down)"
	} else {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		checks := map[string]func(context.Context) error{"store": a.store.Ping}
		if a.cluster != nil {
			checks["redis"] = func(ctx context.Context) error { return a.cluster.rdb.Ping(ctx).Err() }
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for name, check := range checks {
			wg.Go(func() {
				if err := check(ctx); err != nil {
					a.log.Warn("not ready", "part", name, "err", err)
					reason := "unreachable"
					if a.cfg.AdminAddr != "" {
						reason = err.Error()
					}
					mu.Lock()
					down[name] = reason
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	body := readiness{Status: "ready"}
	code := http.StatusOK
	if len(down) > 0 {
		body = readiness{Status: "unavailable", Down: down}
		code = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

// ListenAdmin binds the admin listener (--admin-addr) if one is
// configured and not bound yet, and returns its address (nil without
// one). Serve binds it when not done before; calling it first lets the
// caller learn the address of "host:0".
func (a *App) ListenAdmin() (net.Addr, error) {
	if a.cfg.AdminAddr == "" {
		return nil, nil
	}
	if a.adminLn == nil {
		ln, err := net.Listen("tcp", a.cfg.AdminAddr)
		if err != nil {
			return nil, fmt.Errorf("listen on admin-addr: %w", err)
		}
		a.adminLn = ln
	}
	return a.adminLn.Addr(), nil
}

// adminServer is the admin listener's server, nil without one. Its writes
// are not bounded: a CPU profile takes as long as it is asked to.
func (a *App) adminServer() *http.Server {
	if a.adminLn == nil {
		return nil
	}
	return &http.Server{
		Handler:           a.adminHandler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
	}
}

// serveAdmin serves the admin listener until srv is shut down.
func serveAdmin(srv *http.Server, ln net.Listener) error {
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve admin: %w", err)
	}
	return nil
}
