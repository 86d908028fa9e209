package metrics

import (
	"github.com/parleychat/parley/internal/webhook"

	"github.com/prometheus/client_golang/prometheus"
)

var _ webhook.Observer = webhookMetrics{}

// webhookMetrics counts bots' webhook requests (internal/webhook).
type webhookMetrics struct {
	webhooks *prometheus.CounterVec
}

func newWebhookMetrics(reg *prometheus.Registry) webhookMetrics {
	w := webhookMetrics{webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_webhook_total",
		Help: "Bots' webhook outcomes: delivered and failed (requests), parked (events given up after --webhook-retry-for), circuit_open (an endpoint's circuit opened).",
	}, []string{"result"})}
	reg.MustRegister(w.webhooks)
	return w
}

// Webhook implements webhook.Observer.
func (w webhookMetrics) Webhook(result string) { w.webhooks.WithLabelValues(result).Inc() }
