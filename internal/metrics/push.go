package metrics

import (
	"github.com/parleychat/parley/internal/push"

	"github.com/prometheus/client_golang/prometheus"
)

var _ push.Observer = pushMetrics{}

// pushMetrics counts Web Push notices (internal/push).
type pushMetrics struct {
	pushes *prometheus.CounterVec
}

func newPushMetrics(reg *prometheus.Registry) pushMetrics {
	p := pushMetrics{pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_push_total",
		Help: "Web Push notices by result (sent, failed, dropped) and reason (failed: exhausted, status_NNN, store, encrypt; dropped: queue_full, collapsed, gone, endpoint_refused, shutdown).",
	}, []string{"result", "reason"})}
	reg.MustRegister(p.pushes)
	return p
}

// Push implements push.Observer.
func (p pushMetrics) Push(result, reason string) { p.pushes.WithLabelValues(result, reason).Inc() }
