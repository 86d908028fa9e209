package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleychat/parley/internal/bus/redisbus"
)

var _ redisbus.Observer = redisMetrics{}

// redisMetrics answer "is Redis up" from the node's side.
type redisMetrics struct {
	errors     *prometheus.CounterVec
	reconnects *prometheus.CounterVec
}

func newRedisMetrics(reg *prometheus.Registry) redisMetrics {
	r := redisMetrics{
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_redis_errors_total", Help: "Redis commands that failed, by op: bus_publish (events to other nodes lost), bus_invalidate (other nodes' caches not told), presence_heartbeat, presence_reregister.",
		}, []string{"op"}),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_redis_reconnects_total", Help: "Redis connections made again after a loss, by component: bus (subscriptions renewed, caches emptied), presence (lease expired, connections registered again).",
		}, []string{"component"}),
	}
	reg.MustRegister(r.errors, r.reconnects)
	return r
}

// RedisError implements redisbus.Observer.
func (r redisMetrics) RedisError(op string) { r.errors.WithLabelValues(op).Inc() }

// RedisReconnected implements redisbus.Observer.
func (r redisMetrics) RedisReconnected(component string) {
	r.reconnects.WithLabelValues(component).Inc()
}
