package main

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/cascade-planning/cascade/planning/sqlstore"
)

// replicaCollectors are the /metrics series of db's read replica: where
// read-only requests read, and the replica's connection pool. None without
// a replica.
func replicaCollectors(db *sqlstore.DB) []prometheus.Collector {
	if _, ok := db.ReplicaStats(); !ok {
		return nil
	}
	return []prometheus.Collector{&replicaCollector{db: db},
		collectors.NewDBStatsCollector(db.ReplicaSQLDB(), "cascade_replica")}
}

var (
	replicaReadsDesc = prometheus.NewDesc("cascade_read_replica_reads_total",
		"Read-only requests the read replica served.", nil, nil)
	replicaFallbacksDesc = prometheus.NewDesc("cascade_read_replica_fallbacks_total",
		"Read-only requests that read from the primary although a read replica is attached, by reason: own_write (the caller's last write not replayed yet), lag (the replica too far behind), unavailable, not_replica (promoted), not_found (run again on the primary).",
		[]string{"reason"}, nil)
)

// replicaCollector reports sqlstore.ReplicaStats.
type replicaCollector struct{ db *sqlstore.DB }

func (c *replicaCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- replicaReadsDesc
	ch <- replicaFallbacksDesc
}

func (c *replicaCollector) Collect(ch chan<- prometheus.Metric) {
	st, _ := c.db.ReplicaStats()
	ch <- prometheus.MustNewConstMetric(replicaReadsDesc, prometheus.CounterValue, float64(st.Reads))
	for reason, n := range st.Fallbacks {
		ch <- prometheus.MustNewConstMetric(replicaFallbacksDesc, prometheus.CounterValue, float64(n), reason)
	}
}
