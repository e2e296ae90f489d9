package replay

import "github.com/prometheus/client_golang/prometheus"

// Metrics of a replayer.
type Metrics struct {
	Published   prometheus.Counter
	Confirmed   prometheus.Counter
	Nacked      prometheus.Counter
	Republished prometheus.Counter
	Reconnects  prometheus.Counter
	Skipped     prometheus.Counter
	Latency     prometheus.Histogram
	EventTime   prometheus.Gauge
	// CheckpointErrors counts failed checkpoint saves (Redis unreachable).
	CheckpointErrors prometheus.Counter
	// ConfirmTimeouts counts the waits for a confirm given up (then the
	// connection is replaced and the unconfirmed messages published again).
	ConfirmTimeouts prometheus.Counter
}

// NewMetrics creates the replayer's metrics and registers them with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_replay_published_events_total", Help: "Events published to the streams, confirmed or not."}),
		Confirmed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_replay_confirmed_events_total", Help: "Events the broker confirmed: only these count as sent."}),
		Nacked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_replay_nacked_messages_total", Help: "Messages the broker refused (nack); they are published again."}),
		Republished: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_replay_republished_messages_total", Help: "Messages published again after a nack or a broker failure."}),
		Reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_replay_reconnects_total", Help: "Connections re-established to the broker after a failure."}),
		Skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_replay_skipped_rows_total", Help: "Rows of the data set that are not valid events and were not published."}),
		Latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tributary_replay_publish_latency_seconds", Help: "Time from publishing a message to its confirm.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		EventTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tributary_replay_event_time_seconds", Help: "Event time (Unix seconds) of the last confirmed row."}),
		CheckpointErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_replay_checkpoint_errors_total", Help: "Checkpoint saves that failed (Redis unreachable); the replay goes on and retries."}),
		ConfirmTimeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_replay_confirm_timeouts_total", Help: "Waits for a publisher confirm given up; the connection is replaced and the unconfirmed messages published again."}),
	}
	if reg != nil {
		reg.MustRegister(m.Published, m.Confirmed, m.Nacked, m.Republished, m.Reconnects, m.Skipped, m.Latency, m.EventTime, m.CheckpointErrors, m.ConfirmTimeouts)
	}
	return m
}
