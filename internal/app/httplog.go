package app

import (
	"bufio"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// httpObserver counts HTTP answers (internal/metrics).
type httpObserver interface {
	HTTPRequest(route string, code int, d time.Duration)
}

// quietRoutes are answered without an access log line: probes and
// scrapes every few seconds would drown the requests of people.
var quietRoutes = map[string]bool{"GET /metrics": true, "GET /healthz": true, "GET /readyz": true}

// observeHTTP counts each request by its ServeMux pattern and, with log
// set, writes one access log line for it. It must wrap the mux itself,
// inside the trusted-proxy handler: the mux sets r.Pattern on the request
// it is given, and RemoteAddr is the client's only once the proxy handler
// has rewritten it.
//
// The line holds the method, the route pattern (not the path: paths carry
// ids and, for blob URLs, signed keys), the status, the duration, the
// bytes written and the client address; never the query string (tokens
// ride in it: /ws?token=, signed URLs) nor any header.
func observeHTTP(next http.Handler, obs httpObserver, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		d := time.Since(start)
		route := r.Pattern
		if route == "" {
			route = "unmatched" // a 404 or 405 of the mux's own
		}
		code := rec.status()
		if obs != nil {
			obs.HTTPRequest(route, code, d)
		}
		if log == nil || quietRoutes[route] {
			return
		}
		log.LogAttrs(r.Context(), slog.LevelInfo, "http",
			slog.String("method", r.Method), slog.String("route", route), slog.Int("status", code),
			slog.String("duration", humanDuration(d).String()), slog.Int64("bytes", rec.bytes),
			slog.String("client", hostOf(r.RemoteAddr)))
	})
}

// humanDuration rounds d to three significant digits or so: "1.24ms",
// "312µs", "2.5s".
func humanDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

// hostOf is an "ip:port"'s ip.
func hostOf(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// recorder notes what a handler answered. It passes Hijack and Flush
// through: the WebSocket handshake hijacks the connection (101), and
// http.ResponseController finds the rest by Unwrap.
type recorder struct {
	http.ResponseWriter
	code     int
	bytes    int64
	hijacked bool
}

func (w *recorder) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *recorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		if w.code == 0 {
			w.code = http.StatusOK
		}
		f.Flush()
	}
}

func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("hijack: %T cannot", w.ResponseWriter)
	}
	conn, rw, err := h.Hijack()
	if err == nil {
		w.hijacked = true
	}
	return conn, rw, err
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// status is the answer's code: 101 for a connection hijacked by the
// WebSocket handshake, 200 for a handler that wrote nothing.
func (w *recorder) status() int {
	switch {
	case w.code != 0:
		return w.code
	case w.hijacked:
		return http.StatusSwitchingProtocols
	default:
		return http.StatusOK
	}
}
