package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are one worker's metrics.
type Metrics struct {
	Applied     prometheus.Counter
	Late        prometheus.Counter
	Refilled    prometheus.Counter
	Duplicates  prometheus.Counter
	Quarantined prometheus.Counter
	Lag         *prometheus.GaugeVec
	Flush       prometheus.Histogram
	Latency     prometheus.Histogram
	Owned       prometheus.Gauge
	Rebalances  prometheus.Counter
	Refused     prometheus.Counter
	LeasesLost  prometheus.Counter
	FlushErrors prometheus.Counter
	// CoveredExpired counts the hour hashes given a TTL because the batch
	// layer covers their hours (the coverage duty): one per partition, view
	// and hour passed, whether the hash exists (store.Expirer.ExpireCovered).
	CoveredExpired prometheus.Counter
	// Refused counts the events left out per kind (late, future, partition)
	// and producer; use Producer for the label.
	RefusedEvents *prometheus.CounterVec
	producers     *producerLabels
}

// MaxProducerLabels bounds the distinct producer label values of
// RefusedEvents: the first ones seen keep their name, the others are counted
// as OtherProducer, so that a client inventing producer names cannot grow
// the series without bound.
const MaxProducerLabels = 32

// OtherProducer is the label of the producers past MaxProducerLabels.
const OtherProducer = "other"

// producerLabels remembers the producers given their own label.
type producerLabels struct {
	mu   sync.Mutex
	seen map[string]struct{}
}

// Producer returns the label value of producer: itself if it is one of the
// first MaxProducerLabels seen, OtherProducer otherwise. An empty producer is
// "none".
func (m *Metrics) Producer(producer string) string {
	if producer == "" {
		return "none"
	}
	l := m.producers
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.seen[producer]; ok {
		return producer
	}
	if len(l.seen) >= MaxProducerLabels {
		return OtherProducer
	}
	l.seen[producer] = struct{}{}
	return producer
}

// New creates the metrics and registers them on reg (nil: not registered).
func New(reg prometheus.Registerer) *Metrics {
	const ns, sub = "tributary", "speed"
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help})
	}
	m := &Metrics{
		Applied: c("events_applied_total", "Events applied to the views (committed by a flush)."),
		Late:    c("late_events_total", "Events older than the partition's watermark, left out of the views."),
		Refilled: c("refilled_events_total", "Events older than the partition's watermark applied anyway (and counted in events_applied_total): "+
			"they filled a gap in their producer's seqs, i.e. were sent again after a broker failure, not late."),
		Duplicates:  c("duplicate_events_total", "Events dropped because their producer seq was already applied."),
		Quarantined: c("quarantined_messages_total", "Messages (malformed) and events (future, wrong partition) moved to the quarantine list."),
		Lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "consumer_lag_messages",
			Help: "Messages between the last consumed offset and the stream's end, per owned partition."}, []string{"partition"}),
		Flush: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "flush_duration_seconds",
			Help: "Time of one partition flush (one Lua script call).", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		Latency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "event_to_view_seconds",
			Help:    "From a message's publish time (x-published-at-us header) to the commit of its flush.",
			Buckets: prometheus.ExponentialBuckets(0.005, 1.6, 16)}),
		Owned:      prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "partitions_owned", Help: "Partitions this worker holds the lease of."}),
		Rebalances: c("rebalances_total", "Changes of the set of partitions assigned to this worker."),
		Refused:    c("flush_refused_total", "Flushes refused by the fencing check (lease lost or newer writer)."),
		LeasesLost: c("leases_lost_total", "Leases found lost at renewal: the partition's pending deltas were dropped."),
		CoveredExpired: c("covered_keys_expired_total",
			"Hour hashes given a TTL (the batch grace) because a reconciled batch view covers their hours, one per partition, view and hour passed, whether the hash exists."),
		FlushErrors: c("flush_errors_total", "Flushes that failed for another reason (the partition restarts from its committed offset)."),
		RefusedEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "refused_events_total",
			Help: "Events left out of the views, per kind (late; future and partition: quarantined) and producer (the first 32 producers, the others as \"other\")."},
			[]string{"kind", "producer"}),
		producers: &producerLabels{seen: map[string]struct{}{}},
	}
	if reg != nil {
		reg.MustRegister(m.Applied, m.Late, m.Refilled, m.Duplicates, m.Quarantined, m.Lag, m.Flush, m.Latency, m.Owned, m.Rebalances, m.Refused, m.LeasesLost, m.FlushErrors, m.CoveredExpired, m.RefusedEvents)
	}
	return m
}
