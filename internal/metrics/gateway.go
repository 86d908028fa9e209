package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleychat/parley/internal/gateway"
	"github.com/parleychat/parley/wire"
)

var (
	_ gateway.DeliveryObserver = gatewayMetrics{}
	_ gateway.CloseObserver    = gatewayMetrics{}
)

// gatewayMetrics answer "are messages reaching their recipients, and how
// do connections end".
type gatewayMetrics struct {
	deliveryLag prometheus.Histogram
	errorFrames *prometheus.CounterVec
	wsCloses    *prometheus.CounterVec
}

// lagBuckets run from a millisecond to 30 s: past that a message is as
// good as lost to its reader.
var lagBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

func newGatewayMetrics(reg *prometheus.Registry) gatewayMetrics {
	g := gatewayMetrics{
		deliveryLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "parley_delivery_lag_seconds", Help: "Time from a message's commit (its created_at) to the socket write carrying it to a connected recipient device, per device; live deliveries only (not the sync on connect).",
			Buckets: lagBuckets,
		}),
		errorFrames: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_error_frames_total", Help: "WebSocket error frames sent, by wire code (invalid, unauthorized, forbidden, not_found, conflict, too_large, group_full, rate_limited, internal…).",
		}, []string{"code"}),
		wsCloses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_ws_closes_total", Help: "WebSocket connections over, by close code: the client's if it closed first, else the server's (1001 shutdown, 1008/1009/1002 protocol, 1011 write failed, 4001 revoked, 4008 slow consumer), 1006 when no close frame came (broken or silent); other client codes count as \"other\".",
		}, []string{"code"}),
	}
	reg.MustRegister(g.deliveryLag, g.errorFrames, g.wsCloses)
	return g
}

// DeliveryLag implements gateway.DeliveryObserver.
func (g gatewayMetrics) DeliveryLag(d time.Duration) { g.deliveryLag.Observe(d.Seconds()) }

// ErrorFrame implements gateway.CloseObserver.
func (g gatewayMetrics) ErrorFrame(code wire.Code) { g.errorFrames.WithLabelValues(string(code)).Inc() }

// WSClosed implements gateway.CloseObserver. Codes a client may pick
// freely (3000–4999 but the server's own) are one label value: a client
// must not grow the series without bound.
func (g gatewayMetrics) WSClosed(code int) {
	label := "other"
	if code < 3000 || code == int(gateway.CloseRevoked) || code == int(gateway.CloseSlowConsumer) {
		label = strconv.Itoa(code)
	}
	g.wsCloses.WithLabelValues(label).Inc()
}
