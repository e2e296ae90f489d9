package scheduler

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	graphsSubmitted prometheus.Counter
	tasksSubmitted  prometheus.Counter
	redispatched    prometheus.Counter
	resumed         prometheus.Counter
	leader          prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, s *Scheduler) (*metrics, error) {
	m := &metrics{
		graphsSubmitted: prometheus.NewCounter(prometheus.CounterOpts{Name: "tributary_scheduler_graphs_submitted_total", Help: "Graphs submitted to this replica (repeated submissions excluded)."}),
		tasksSubmitted:  prometheus.NewCounter(prometheus.CounterOpts{Name: "tributary_scheduler_tasks_submitted_total", Help: "Tasks of the graphs submitted to this replica."}),
		redispatched:    prometheus.NewCounter(prometheus.CounterOpts{Name: "tributary_scheduler_tasks_redispatched_total", Help: "Running tasks of dead workers dispatched again."}),
		resumed:         prometheus.NewCounter(prometheus.CounterOpts{Name: "tributary_scheduler_submissions_resumed_total", Help: "Submissions cut short by a crash and finished by the sweeper."}),
		leader:          prometheus.NewGauge(prometheus.GaugeOpts{Name: "tributary_scheduler_leader", Help: "1 while this replica holds the leader lease."}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.graphsSubmitted, m.tasksSubmitted, m.redispatched, m.resumed, m.leader, &clusterCollector{s: s}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// clusterCollector reads cluster-wide figures from Redis at scrape time: the
// counters the scripts keep (tasks completed, memoized, graphs finished by
// state), the active graphs and the asynq queue depths.
type clusterCollector struct{ s *Scheduler }

var (
	descTasks    = prometheus.NewDesc("tributary_scheduler_tasks_completed_total", "Tasks completed by all workers (rate() gives the cluster's tasks/s).", nil, nil)
	descMemo     = prometheus.NewDesc("tributary_scheduler_tasks_memoized_total", "Tasks skipped because their result was already stored.", nil, nil)
	descFinished = prometheus.NewDesc("tributary_scheduler_graphs_finished_total", "Graphs finished, by final state (done, failed, cancelled).", []string{"state"}, nil)
	descActive   = prometheus.NewDesc("tributary_scheduler_graphs_running", "Graphs submitting or running.", nil, nil)
	descDepth    = prometheus.NewDesc("tributary_scheduler_queue_depth", "asynq tasks by queue and state (pending, active, scheduled, retry, archived).", []string{"queue", "state"}, nil)
	descWorkers  = prometheus.NewDesc("tributary_scheduler_live_workers", "Workers whose advertisement is live.", nil, nil)
)

func (c *clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descTasks, descMemo, descFinished, descActive, descDepth, descWorkers} {
		ch <- d
	}
}

func (c *clusterCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if st, err := c.s.store.Stats(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(descTasks, prometheus.CounterValue, float64(st["tasks_done"]))
		ch <- prometheus.MustNewConstMetric(descMemo, prometheus.CounterValue, float64(st["tasks_memoized"]))
		for _, s := range []string{"done", "failed", "cancelled"} {
			ch <- prometheus.MustNewConstMetric(descFinished, prometheus.CounterValue, float64(st["graphs_"+s]), s)
		}
	}
	if ids, err := c.s.store.Active(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(descActive, prometheus.GaugeValue, float64(len(ids)))
	}
	if ws, err := c.s.store.LiveWorkers(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(descWorkers, prometheus.GaugeValue, float64(len(ws)))
	}
	for _, q := range c.s.cfg.Queues.All() {
		info, err := c.s.insp.GetQueueInfo(q)
		if err != nil {
			continue // a queue nobody used yet
		}
		for state, n := range map[string]int{"pending": info.Pending, "active": info.Active, "scheduled": info.Scheduled, "retry": info.Retry, "archived": info.Archived} {
			ch <- prometheus.MustNewConstMetric(descDepth, prometheus.GaugeValue, float64(n), q, state)
		}
	}
}
