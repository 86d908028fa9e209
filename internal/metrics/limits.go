package metrics

import "github.com/prometheus/client_golang/prometheus"

// limitMetrics count what the abuse limits refuse.
type limitMetrics struct {
	limited       *prometheus.CounterVec
	loginFailures prometheus.Counter
}

func newLimitMetrics(reg *prometheus.Registry) limitMetrics {
	l := limitMetrics{
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_limited_total",
			Help: "Attempts refused by an abuse limit, by limit: auth_per_ip, login_failures, password_queue, user_lookups, conns_total, conns_per_ip, conns_idle_closed (idle HTTP connections closed to make room), ws_total, ws_per_user, ws_per_ip, user_sends, pending_sends (the node's sends awaiting their commit were at the bound).",
		}, []string{"limit"}),
		loginFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_login_failures_total", Help: "Logins refused for a wrong username or password.",
		}),
	}
	reg.MustRegister(l.limited, l.loginFailures)
	return l
}

// Limited implements api.AuthObserver and the gateway's limit observer.
func (l limitMetrics) Limited(limit string) { l.limited.WithLabelValues(limit).Inc() }

// LoginFailed implements api.AuthObserver.
func (l limitMetrics) LoginFailed() { l.loginFailures.Inc() }
