package metrics

import (
	"github.com/parleychat/parley/internal/push"

	"github.com/prometheus/client_golang/prometheus"
)

var _ push.Observer = pushMetrics{}

// pushMetrics counts push notices (internal/push), Web Push and relays.
type pushMetrics struct {
	pushes *prometheus.CounterVec
}

func newPushMetrics(reg *prometheus.Registry) pushMetrics {
	p := pushMetrics{pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_push_total",
		Help: "Push notices by kind (webpush, relay; notice: a committed message before it is planned), result (sent, failed, dropped) and reason (failed: exhausted, status_NNN, store, encrypt; dropped: queue_full, collapsed, gone, endpoint_refused, shutdown).",
	}, []string{"kind", "result", "reason"})}
	reg.MustRegister(p.pushes)
	return p
}

// Push implements push.Observer.
func (p pushMetrics) Push(kind, result, reason string) {
	p.pushes.WithLabelValues(kind, result, reason).Inc()
}
