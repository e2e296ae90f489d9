package archive

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the archiver's Prometheus metrics.
type Metrics struct {
	events, duplicates, quarantined, segments, bytes, refused, restarts, skipped *prometheus.CounterVec
	offset, complete                                                             *prometheus.GaugeVec
	owned                                                                        prometheus.Gauge
	leasesLost                                                                   prometheus.Counter
	putSeconds                                                                   prometheus.Histogram
}

// NewMetrics creates the metrics and registers them with reg (if not nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	cv := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tributary_archive_" + name, Help: help}, []string{"partition"})
	}
	gv := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tributary_archive_" + name, Help: help}, []string{"partition"})
	}
	m := &Metrics{
		events:      cv("archived_events_total", "Events written to committed segments."),
		duplicates:  cv("duplicate_events_total", "Events dropped because their (producer, seq) was archived already."),
		quarantined: cv("quarantined_messages_total", "Messages set aside: malformed ones, and events of another partition (see the quarantine list)."),
		segments:    cv("segments_total", "Segments committed."),
		bytes:       cv("segment_bytes_total", "Bytes of the segments committed."),
		refused:     cv("commits_refused_total", "Commits refused because the committed offset moved (another archiver)."),
		restarts:    cv("partition_restarts_total", "Times a partition restarted from its committed offset after an error."),
		skipped: cv("skipped_offsets_total", "Stream offsets never archived: on resume the stream no longer held them "+
			"(its retention dropped them first), so the batch layer misses those messages."),
		offset:   gv("committed_offset", "Last committed stream offset."),
		complete: gv("complete_up_to_seconds", "Highest event time archived (Unix seconds): the partition is complete up to it."),
		owned: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tributary_archive_partitions_owned",
			Help: "Partitions whose lease this archiver holds."}),
		leasesLost: prometheus.NewCounter(prometheus.CounterOpts{Name: "tributary_archive_leases_lost_total",
			Help: "Partition leases found lost (expired or taken over) while archiving."}),
		putSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tributary_archive_segment_put_seconds",
			Help: "Time to store a segment durably.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
	}
	if reg != nil {
		reg.MustRegister(m.events, m.duplicates, m.quarantined, m.segments, m.bytes, m.refused, m.restarts, m.skipped, m.offset, m.complete, m.owned, m.leasesLost, m.putSeconds)
	}
	return m
}
