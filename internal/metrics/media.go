package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleychat/parley/internal/media"
)

var _ media.Observer = mediaMetrics{}

// mediaMetrics time media processing and count its failures by kind.
type mediaMetrics struct {
	processed *prometheus.HistogramVec
}

func newMediaMetrics(reg *prometheus.Registry) mediaMetrics {
	m := mediaMetrics{processed: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "parley_media_processing_seconds", Help: "Time to process an upload (check, strip metadata, thumbnail, transcode), by kind (image, video, audio, document) and result (ready; refused: not what it claims or over a limit; timeout; failed: a server fault). Its _count by result is the outcomes.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
	}, []string{"kind", "result"})}
	reg.MustRegister(m.processed)
	return m
}

// MediaProcessed implements media.Observer.
func (m mediaMetrics) MediaProcessed(kind media.Kind, result string, d time.Duration) {
	m.processed.WithLabelValues(string(kind), result).Observe(d.Seconds())
}
