package autoscale

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Actuator applies a pool size. Resize must leave the pool at n workers, or
// return an error; it may take a while (a scale-down drains a worker).
type Actuator interface {
	Current(ctx context.Context, kind Kind) (int, error)
	Resize(ctx context.Context, kind Kind, n int) error
}

// Signal reads a pool's load (lag in messages, or queued tasks).
type Signal interface {
	Load(ctx context.Context, kind Kind) (float64, error)
}

// Leader is the lease the loop acts under (internal/lease.Lease).
type Leader interface {
	TryAcquire(ctx context.Context) (bool, error)
	Release(ctx context.Context) error
	ID() string
}

// Config sets up a Loop.
type Config struct {
	Leader   Leader
	Signal   Signal
	Actuator Actuator
	Policies map[Kind]Policy
	// Interval between two ticks (default 5 s).
	Interval time.Duration
	// Now is the clock (default time.Now): the tests inject theirs.
	Now func() time.Time
	Log *slog.Logger
	// Reg, when set, receives the tributary_autoscale_* metrics.
	Reg prometheus.Registerer
}

// Loop is the control loop: at every tick, if it holds the lease, it reads
// each pool's load and size, decides and resizes.
type Loop struct {
	cfg   Config
	kinds []Kind
	hist  map[Kind][]Sample
	last  map[Kind]time.Time
	met   *loopMetrics
}

type loopMetrics struct {
	desired, current, load *prometheus.GaugeVec
	decisions              *prometheus.CounterVec
	leader                 prometheus.Gauge
}

// New checks the configuration and returns the loop.
func New(cfg Config) (*Loop, error) {
	if cfg.Leader == nil || cfg.Signal == nil || cfg.Actuator == nil || len(cfg.Policies) == 0 {
		return nil, errors.New("autoscale: a leader, a signal, an actuator and at least one policy are needed")
	}
	for k, p := range cfg.Policies {
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("%s pool: %w", k, err)
		}
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	l := &Loop{cfg: cfg, hist: map[Kind][]Sample{}, last: map[Kind]time.Time{}}
	for k := range cfg.Policies {
		l.kinds = append(l.kinds, k)
	}
	sort.Slice(l.kinds, func(i, j int) bool { return l.kinds[i] < l.kinds[j] })
	m := &loopMetrics{
		desired: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tributary_autoscale_desired_workers", Help: "Workers the last decision wants, by pool."}, []string{"pool"}),
		current: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tributary_autoscale_current_workers", Help: "Workers running at the last tick, by pool."}, []string{"pool"}),
		load:    prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tributary_autoscale_load", Help: "Load read at the last tick: consumer lag in messages (speed) or queued tasks (batch)."}, []string{"pool"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tributary_autoscale_decisions_total", Help: "Decisions taken, by pool and reason (up, down, bounds, cooldown, hold, no-data, error)."},
			[]string{"pool", "reason"}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tributary_autoscale_leader", Help: "1 while this autoscaler holds the lease."}),
	}
	if cfg.Reg != nil {
		for _, c := range []prometheus.Collector{m.desired, m.current, m.load, m.decisions, m.leader} {
			if err := cfg.Reg.Register(c); err != nil {
				return nil, fmt.Errorf("autoscale metrics: %w", err)
			}
		}
	}
	l.met = m
	return l, nil
}

// Run ticks until ctx is done, then gives the lease up.
func (l *Loop) Run(ctx context.Context) error {
	t := time.NewTicker(l.cfg.Interval)
	defer t.Stop()
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := l.cfg.Leader.Release(rctx); err != nil {
			l.cfg.Log.Warn("autoscale: release lease", "err", err)
		}
	}()
	for {
		if _, err := l.Step(ctx); err != nil && ctx.Err() == nil {
			l.cfg.Log.Warn("autoscale: tick failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Step is one tick: it reports whether this loop led, and the first error.
// A follower forgets its history: when it takes over it must watch the
// load for DownAfter before it shrinks anything.
func (l *Loop) Step(ctx context.Context) (bool, error) {
	lead, err := l.cfg.Leader.TryAcquire(ctx)
	if err != nil {
		l.met.leader.Set(0)
		return false, err
	}
	if !lead {
		l.met.leader.Set(0)
		clear(l.hist)
		return false, nil
	}
	l.met.leader.Set(1)
	var errs []error
	for _, k := range l.kinds {
		if err := l.stepPool(ctx, k); err != nil {
			l.met.decisions.WithLabelValues(string(k), "error").Inc()
			errs = append(errs, fmt.Errorf("%s pool: %w", k, err))
		}
	}
	return true, errors.Join(errs...)
}

func (l *Loop) stepPool(ctx context.Context, k Kind) error {
	p := l.cfg.Policies[k]
	now := l.cfg.Now()
	load, err := l.cfg.Signal.Load(ctx, k)
	if err != nil {
		return fmt.Errorf("read load: %w", err)
	}
	cur, err := l.cfg.Actuator.Current(ctx, k)
	if err != nil {
		return fmt.Errorf("read size: %w", err)
	}
	// Keep what DownAfter needs, and one sample older than it.
	h := append(l.hist[k], Sample{At: now, Load: load})
	for len(h) > 1 && now.Sub(h[1].At) >= p.DownAfter {
		h = h[1:]
	}
	l.hist[k] = h
	d := Decide(p, State{Now: now, Current: cur, History: h, LastResize: l.last[k]})
	l.met.load.WithLabelValues(string(k)).Set(load)
	l.met.current.WithLabelValues(string(k)).Set(float64(cur))
	l.met.desired.WithLabelValues(string(k)).Set(float64(d.Desired))
	l.met.decisions.WithLabelValues(string(k), d.Reason).Inc()
	if !d.Changes(cur) {
		l.cfg.Log.Debug("autoscale: hold", "pool", k, "load", load, "workers", cur, "reason", d.Reason)
		return nil
	}
	l.cfg.Log.Info("autoscale: resize", "pool", k, "load", load, "from", cur, "to", d.Desired, "reason", d.Reason, "leader", l.cfg.Leader.ID())
	if err := l.cfg.Actuator.Resize(ctx, k, d.Desired); err != nil {
		return fmt.Errorf("resize to %d: %w", d.Desired, err)
	}
	l.last[k] = l.cfg.Now()
	return nil
}
