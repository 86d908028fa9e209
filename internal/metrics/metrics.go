// Package metrics exposes Parley's counters in the Prometheus text format.
// It owns its registry (no global default registry), and implements the
// Observer interfaces the domain packages declare.
package metrics

import (
	"net/http"
	"time"

	"github.com/parleychat/parley/internal/buildinfo"
	"github.com/parleychat/parley/internal/retention"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds every collector.
type Metrics struct {
	reg *prometheus.Registry

	connections   prometheus.Gauge
	framesIn      *prometheus.CounterVec
	framesOut     prometheus.Counter
	socketWrites  prometheus.Counter
	bytesIn       prometheus.Counter
	bytesOut      prometheus.Counter
	slowConsumers prometheus.Counter
	gapFills      prometheus.Counter

	messagesSent  prometheus.Counter
	receipts      prometheus.Counter
	statusChanges *prometheus.CounterVec
	commitBatch   prometheus.Histogram
	commitSeconds prometheus.Histogram
	sendSeconds   prometheus.Histogram

	expired        *prometheus.CounterVec
	cleanupSeconds prometheus.Histogram
	oldestPending  prometheus.Gauge
	cleanupOK      prometheus.Gauge

	limitMetrics
	pushMetrics
	webhookMetrics
	gatewayMetrics
	httpMetrics
	redisMetrics
	mediaMetrics
}

// New registers every collector in a fresh registry.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "parley_connections", Help: "Open WebSocket connections on this node.",
		}),
		framesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_frames_received_total", Help: "Valid client frames, by type.",
		}, []string{"type"}),
		framesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_frames_sent_total", Help: "Frames written to clients.",
		}),
		socketWrites: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_socket_writes_total", Help: "Writes to client sockets; each carries one or more frames.",
		}),
		bytesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_websocket_received_bytes_total", Help: "Bytes of the valid frames clients sent (payloads, without WebSocket framing).",
		}),
		bytesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_websocket_sent_bytes_total", Help: "Bytes written to client sockets, WebSocket framing included.",
		}),
		slowConsumers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_slow_consumer_disconnects_total", Help: "Connections closed because their send queue overflowed.",
		}),
		gapFills: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_delivery_gap_fills_total", Help: "Live deliveries that first read missed messages from the store.",
		}),
		messagesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_messages_stored_total", Help: "Messages durably stored (acknowledged as sent).",
		}),
		receipts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_receipts_total", Help: "delivery_ack and read_receipt frames committed.",
		}),
		statusChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_message_status_changes_total", Help: "Per-recipient message state changes, by new status (delivered, read).",
		}, []string{"status"}),
		commitBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "parley_commit_batch_size", Help: "Sends per commit cycle that had any.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "parley_commit_seconds", Help: "Duration of one commit cycle (sends, receipts, membership changes, expiries).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 14),
		}),
		sendSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "parley_send_seconds", Help: "Time from a message frame's arrival to its commit.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 14),
		}),
		expired: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_retention_deleted_total", Help: "What retention cleanup deleted, by kind: messages, message_bytes, expired_statuses, receipt_events, sessions, media, media_bytes, abandoned_uploads.",
		}, []string{"kind"}),
		cleanupSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "parley_retention_cleanup_seconds", Help: "Duration of one retention cleanup pass.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
		oldestPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "parley_oldest_pending_seconds", Help: "Age of the oldest message a device has not acknowledged, at the last cleanup pass.",
		}),
		cleanupOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "parley_cleanup_last_success_timestamp_seconds", Help: "When the last full retention cleanup pass succeeded (Unix seconds; 0: none since start).",
		}),
	}
	m.reg.MustRegister(m.expired, m.cleanupSeconds, m.oldestPending, m.cleanupOK)
	m.reg.MustRegister(m.connections, m.framesIn, m.framesOut, m.socketWrites, m.bytesIn, m.bytesOut, m.slowConsumers, m.gapFills,
		m.messagesSent, m.receipts, m.statusChanges, m.commitBatch, m.commitSeconds, m.sendSeconds,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	bi := buildinfo.Get()
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "parley_build_info", Help: "Always 1; its labels are the running binary's version, commit and Go version.",
	}, []string{"version", "commit", "go_version"})
	build.WithLabelValues(bi.Version, bi.Commit, bi.GoVersion).Set(1)
	m.reg.MustRegister(build)
	m.limitMetrics = newLimitMetrics(m.reg)
	m.pushMetrics = newPushMetrics(m.reg)
	m.webhookMetrics = newWebhookMetrics(m.reg)
	m.gatewayMetrics = newGatewayMetrics(m.reg)
	m.httpMetrics = newHTTPMetrics(m.reg)
	m.redisMetrics = newRedisMetrics(m.reg)
	m.mediaMetrics = newMediaMetrics(m.reg)
	return m
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// ConnOpened implements gateway.Observer.
func (m *Metrics) ConnOpened() { m.connections.Inc() }

// ConnClosed implements gateway.Observer.
func (m *Metrics) ConnClosed() { m.connections.Dec() }

// FrameIn implements gateway.Observer.
func (m *Metrics) FrameIn(t string, bytes int) {
	m.framesIn.WithLabelValues(t).Inc()
	m.bytesIn.Add(float64(bytes))
}

// FrameOut implements gateway.Observer.
func (m *Metrics) Written(frames, bytes int) {
	m.framesOut.Add(float64(frames))
	m.socketWrites.Inc()
	m.bytesOut.Add(float64(bytes))
}

// SlowConsumer implements gateway.Observer.
func (m *Metrics) SlowConsumer() { m.slowConsumers.Inc() }

// GapFilled implements gateway.Observer.
func (m *Metrics) GapFilled() { m.gapFills.Inc() }

// Committed implements messaging.Observer.
func (m *Metrics) Committed(messages, batch int, d time.Duration) {
	m.messagesSent.Add(float64(messages))
	if batch > 0 {
		m.commitBatch.Observe(float64(batch))
	}
	m.commitSeconds.Observe(d.Seconds())
}

// SendLatency implements messaging.Observer.
func (m *Metrics) SendLatency(d time.Duration) { m.sendSeconds.Observe(d.Seconds()) }

// StatusChanges implements messaging.Observer.
func (m *Metrics) StatusChanges(status string, n int) {
	m.statusChanges.WithLabelValues(status).Add(float64(n))
}

// Counter registers a counter whose value is read at scrape time.
func (m *Metrics) Counter(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
}

// Gauge registers a gauge whose value is read at scrape time.
func (m *Metrics) Gauge(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

// Receipts implements messaging.Observer.
func (m *Metrics) Receipts(n int) { m.receipts.Add(float64(n)) }

var (
	_ retention.ExpiryObserver  = (*Metrics)(nil)
	_ retention.SuccessObserver = (*Metrics)(nil)
)

// CleanupSucceeded implements retention.SuccessObserver.
func (m *Metrics) CleanupSucceeded(at time.Time) {
	m.cleanupOK.Set(float64(at.UnixNano()) / 1e9)
}

// ExpiryPass implements retention.ExpiryObserver: a light pass's deletions
// count with the full passes'.
func (m *Metrics) ExpiryPass(s retention.Summary) {
	m.expired.WithLabelValues("messages").Add(float64(s.ExpiredMessages))
	m.expired.WithLabelValues("message_bytes").Add(float64(s.ExpiredBytes))
	m.expired.WithLabelValues("expired_statuses").Add(float64(s.ExpiredStatuses))
}

// CleanupPass implements retention.Observer.
func (m *Metrics) CleanupPass(s retention.Summary) {
	for kind, n := range map[string]int64{
		"messages": int64(s.ExpiredMessages), "message_bytes": s.ExpiredBytes, "expired_statuses": int64(s.ExpiredStatuses),
		"receipt_events": int64(s.ReceiptEvents), "sessions": int64(s.Devices), "media": int64(s.Media),
		"media_bytes": s.MediaBytes, "abandoned_uploads": int64(s.AbandonedUploads),
	} {
		m.expired.WithLabelValues(kind).Add(float64(n))
	}
	m.cleanupSeconds.Observe(s.Duration.Seconds())
	m.oldestPending.Set(s.OldestPending.Seconds())
}
