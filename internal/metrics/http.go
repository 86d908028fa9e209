package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// httpMetrics count HTTP answers by route: the ServeMux pattern that
// served the request, never its path (ids in paths would make a series
// per conversation).
type httpMetrics struct {
	requests *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
}

func newHTTPMetrics(reg *prometheus.Registry) httpMetrics {
	h := httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_http_requests_total", Help: "HTTP requests answered, by route (the pattern that served it; \"unmatched\" when none did) and status code (101 for a WebSocket upgrade).",
		}, []string{"route", "code"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "parley_http_request_seconds", Help: "Time to answer an HTTP request, by route (a WebSocket: its handshake).",
			Buckets: lagBuckets,
		}, []string{"route"}),
	}
	reg.MustRegister(h.requests, h.seconds)
	return h
}

// HTTPRequest counts one request answered.
func (h httpMetrics) HTTPRequest(route string, code int, d time.Duration) {
	h.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	h.seconds.WithLabelValues(route).Observe(d.Seconds())
}
