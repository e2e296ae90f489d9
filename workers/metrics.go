package workers

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	tasks        *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	running      prometheus.Gauge
	graphsFailed prometheus.Counter
}

// Task outcomes, the "outcome" label of tributary_worker_tasks_total.
const (
	outcomeDone     = "done"
	outcomeMemo     = "memoized"
	outcomeSkipped  = "skipped"
	outcomeRetry    = "retried"
	outcomeFailed   = "failed"
	outcomeDupe     = "duplicate"
	outcomeInternal = "error"
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		tasks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_worker_tasks_total",
			Help: "Tasks handled, by function and outcome (done, memoized, skipped, retried, failed, duplicate, error); rate() gives tasks/s.",
		}, []string{"function", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tributary_worker_task_duration_seconds",
			Help:    "Time from the start of a task to its completion being recorded, by function.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 12),
		}, []string{"function"}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tributary_worker_running_tasks",
			Help: "Tasks running in this worker.",
		}),
		graphsFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_worker_graphs_failed_total",
			Help: "Graphs this worker failed because one of their tasks failed for good.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.tasks, m.duration, m.running, m.graphsFailed} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
