package metrics

import (
	"database/sql"
	"iter"

	"github.com/prometheus/client_golang/prometheus"
)

// poolCollector reads the store's connection pools at scrape time.
type poolCollector struct {
	pools                           func() iter.Seq2[string, sql.DBStats]
	open, inUse, idle, max          *prometheus.Desc
	waits, waitSeconds, closedLimit *prometheus.Desc
}

// StorePools exports the database/sql statistics of the store's pools
// (parley_store_pool_*), read at each scrape, labelled by pool name.
func (m *Metrics) StorePools(pools func() iter.Seq2[string, sql.DBStats]) {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("parley_store_pool_"+name, help, []string{"pool"}, nil)
	}
	m.reg.MustRegister(&poolCollector{
		pools:       pools,
		open:        desc("open_connections", "Connections the pool holds, in use or idle (pool: SQLite's write and read, PostgreSQL's shared)."),
		inUse:       desc("in_use_connections", "Connections running a query or transaction."),
		idle:        desc("idle_connections", "Connections open and idle."),
		max:         desc("max_open_connections", "The pool's bound on open connections (0: none)."),
		waits:       desc("waits_total", "Times a query waited for a free connection: the pool was exhausted."),
		waitSeconds: desc("wait_seconds_total", "Total time queries waited for a free connection."),
		closedLimit: desc("closed_max_lifetime_total", "Connections closed for reaching their maximum lifetime or idle time."),
	})
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.open, c.inUse, c.idle, c.max, c.waits, c.waitSeconds, c.closedLimit} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	for name, s := range c.pools() {
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, name)
		}
		counter := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, name)
		}
		gauge(c.open, float64(s.OpenConnections))
		gauge(c.inUse, float64(s.InUse))
		gauge(c.idle, float64(s.Idle))
		gauge(c.max, float64(s.MaxOpenConnections))
		counter(c.waits, float64(s.WaitCount))
		counter(c.waitSeconds, s.WaitDuration.Seconds())
		counter(c.closedLimit, float64(s.MaxLifetimeClosed+s.MaxIdleTimeClosed+s.MaxIdleClosed))
	}
}
