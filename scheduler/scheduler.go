package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/internal/lease"
	"github.com/tributary-dev/tributary/scheduler/graph"
	"github.com/tributary-dev/tributary/scheduler/internal/state"
	"github.com/tributary-dev/tributary/scheduler/taskq"
)

// Config configures a Scheduler.
type Config struct {
	Redis     redis.UniversalClient
	KeyPrefix string
	// Queues maps priorities to asynq queues (taskq.DefaultQueues(KeyPrefix) if zero).
	Queues taskq.Queues
	// Defaults for what graphs leave unset (see DefaultDefaults).
	Defaults Defaults
	// LeaseTTL is how long a dead leader keeps the lease (default 3 s): the
	// standby takes over within about that.
	LeaseTTL time.Duration
	// SweepInterval is how often the leader sweeps (default 1 s).
	SweepInterval time.Duration
	// ResumeAfter is the age after which a graph still "submitting" is taken
	// to have lost its submitter and is finished by the sweeper (default 10 s).
	ResumeAfter time.Duration
	// Chunk is the most tasks of one graph dispatched as one asynq task
	// when many are ready at once (default DefaultChunk; 1: one task per
	// asynq task). The chunk size is also bounded by the ready tasks over
	// the live workers' asynq slots, so that every slot gets work before
	// tasks are grouped (state.Dispatch, enqueue_ready in common.lua).
	Chunk int
	// Periodic graphs, submitted by the leader only.
	Periodic []Periodic
	// Clock tells the sweeper and the periodic graphs the time (the real
	// clock if nil).
	Clock Clock
	// ID names this replica (default host-pid-random).
	ID      string
	Log     *slog.Logger
	Metrics prometheus.Registerer
}

// Defaults of Config.
const (
	DefaultLeaseTTL      = 3 * time.Second
	DefaultSweepInterval = time.Second
	// DefaultChunk: see Config.Chunk and docs/benchmarks-scheduler.md
	// ("Fifth pass") for the measurements it was chosen on.
	DefaultChunk = 32
	// MaxChunk bounds Config.Chunk.
	MaxChunk = 1024
)

// DefaultDefaults are the defaults of a graph's tasks.
var DefaultDefaults = Defaults{Timeout: 30 * time.Minute, MaxRetries: 3, ResultTTL: 24 * time.Hour, GraphTTL: 24 * time.Hour}

// Scheduler is one replica of the scheduler service.
type Scheduler struct {
	cfg      Config
	store    *state.Store
	insp     *asynq.Inspector
	lease    *lease.Lease
	m        *metrics
	log      *slog.Logger
	leader   atomic.Bool
	sweeper  *sweeper
	periodic *periodic
}

// New returns a scheduler replica; Run starts its background work (leader
// election, sweeping, periodic graphs). Submit and the reads work without Run.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Redis == nil || cfg.KeyPrefix == "" {
		return nil, errors.New("scheduler: Redis and KeyPrefix are required")
	}
	if cfg.Queues.Default == "" {
		cfg.Queues = taskq.DefaultQueues(cfg.KeyPrefix)
	}
	if err := cfg.Queues.CheckSlot(cfg.KeyPrefix); err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	d := &cfg.Defaults
	if d.Timeout <= 0 {
		d.Timeout = DefaultDefaults.Timeout
	}
	if d.MaxRetries < 0 {
		d.MaxRetries = 0
	}
	if d.ResultTTL <= 0 {
		d.ResultTTL = DefaultDefaults.ResultTTL
	}
	if d.GraphTTL <= 0 {
		d.GraphTTL = DefaultDefaults.GraphTTL
	}
	if cfg.Chunk <= 0 {
		cfg.Chunk = DefaultChunk
	}
	// A chunk's members are read with one HMGET (and Lua's unpack) in the
	// enqueue script.
	cfg.Chunk = min(cfg.Chunk, MaxChunk)
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = DefaultSweepInterval
	}
	if cfg.ResumeAfter <= 0 {
		cfg.ResumeAfter = 10 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.ID == "" {
		host, _ := os.Hostname()
		cfg.ID = fmt.Sprintf("%s-%d-%04x", host, os.Getpid(), rand.N(1<<16))
	}
	s := &Scheduler{
		cfg:   cfg,
		store: state.New(cfg.Redis, cfg.KeyPrefix),
		insp:  asynq.NewInspectorFromRedisClient(cfg.Redis),
		lease: lease.New(cfg.Redis, cfg.KeyPrefix+":scheduler:leader", cfg.ID, cfg.LeaseTTL),
		log:   cfg.Log.With("scheduler", cfg.ID),
	}
	m, err := newMetrics(cfg.Metrics, s)
	if err != nil {
		return nil, fmt.Errorf("scheduler metrics: %w", err)
	}
	s.m = m
	s.sweeper = &sweeper{store: s.store, clock: cfg.Clock, interval: cfg.SweepInterval, resumeAfter: cfg.ResumeAfter, log: s.log, m: m}
	if s.periodic, err = newPeriodic(s); err != nil {
		return nil, err
	}
	return s, nil
}

// Stats are cluster-wide counters kept by the scripts: graphs_done,
// graphs_failed, graphs_cancelled, tasks_done, tasks_memoized.
func (s *Scheduler) Stats(ctx context.Context) (map[string]int64, error) { return s.store.Stats(ctx) }

// Tasks returns the state of every task of graph id (ErrNotFound if unknown).
func (s *Scheduler) Tasks(ctx context.Context, id string) (map[string]TaskState, error) {
	return s.store.TaskStates(ctx, id)
}

// ID is this replica's ID.
func (s *Scheduler) ID() string { return s.cfg.ID }

// IsLeader reports whether this replica holds the leader lease.
func (s *Scheduler) IsLeader() bool { return s.leader.Load() }

// Leader returns the ID of the replica holding the lease ("" if none).
func (s *Scheduler) Leader(ctx context.Context) (string, error) { return s.lease.Holder(ctx) }

// Functions returns the functions advertised by live workers, with how many
// workers know each.
func (s *Scheduler) Functions(ctx context.Context) (map[string]int, error) {
	ws, err := s.store.LiveWorkers(ctx)
	if err != nil {
		return nil, err
	}
	return functions(ws), nil
}

func functions(ws []state.WorkerInfo) map[string]int {
	fns := make(map[string]int)
	for _, w := range ws {
		for _, f := range w.Functions {
			fns[f]++
		}
	}
	return fns
}

// Submit validates g (structure, and every function known to a live worker)
// and starts it. Submitting a graph whose ID exists is a no-op that returns
// the existing graph (Created false): the same graph submitted twice runs once.
func (s *Scheduler) Submit(ctx context.Context, g *graph.Graph) (*Submitted, error) {
	ws, err := s.store.LiveWorkers(ctx)
	if err != nil {
		return nil, err
	}
	fns := functions(ws)
	if err := g.Validate(func(f string) bool { return fns[f] > 0 }); err != nil {
		return nil, err
	}
	d := state.Dispatch{Chunk: s.cfg.Chunk}
	for _, w := range ws {
		d.Slots += max(w.Concurrency, 1) // 1 for a worker that does not say (an older one)
	}
	sub, err := s.store.Submit(ctx, withDefaults(g, s.cfg.Defaults), s.cfg.Queues.For(g.Priority), s.cfg.Defaults.GraphTTL, d)
	if err != nil {
		return nil, err
	}
	res := &Submitted{ID: sub.ID, Created: sub.Created, Memoized: sub.Memoized, Enqueued: sub.Enqueued}
	if res.Created {
		s.m.graphsSubmitted.Inc()
		s.m.tasksSubmitted.Add(float64(len(g.Tasks)))
		s.log.Info("graph submitted", "graph", res.ID, "name", g.Name, "tasks", len(g.Tasks), "memoized", res.Memoized, "enqueued", res.Enqueued)
	}
	return res, nil
}

// withDefaults returns g with its ID and what it leaves unset filled in
// (the spec stored is that graph, so that Resume needs no defaults).
func withDefaults(g *graph.Graph, d Defaults) *graph.Graph {
	full := *g
	full.ID = g.EffectiveID()
	if full.ResultTTL == 0 {
		full.ResultTTL = d.ResultTTL
	}
	full.Tasks = make([]graph.Task, len(g.Tasks))
	for i, t := range g.Tasks {
		if t.Timeout == 0 {
			t.Timeout = d.Timeout
		}
		if t.MaxRetries == nil {
			r := d.MaxRetries
			t.MaxRetries = &r
		}
		full.Tasks[i] = t
	}
	return &full
}

// Status returns graph id's progress (ErrNotFound if unknown).
func (s *Scheduler) Status(ctx context.Context, id string) (*Status, error) {
	m, err := s.store.Meta(ctx, id)
	if err != nil {
		return nil, err
	}
	return (*Status)(m), nil
}

// Cancel stops graph id: pending tasks are cancelled and asynq is asked to
// cancel the running ones. It reports whether the graph was still running.
func (s *Scheduler) Cancel(ctx context.Context, id string) (bool, error) {
	running, changed, err := s.store.Cancel(ctx, id, "cancelled")
	if err != nil {
		return false, err
	}
	for _, tid := range running {
		// Best effort: the task may have just finished.
		if err := s.insp.CancelProcessing(tid); err != nil {
			s.log.Debug("cancel processing", "task", tid, "err", err)
		}
	}
	if changed {
		s.log.Info("graph cancelled", "graph", id, "running_tasks_cancelled", len(running))
	}
	return changed, nil
}

// Wait polls graph id until it is final or ctx is done; progress (if not
// nil) is called with every status read.
func Wait(ctx context.Context, status func(context.Context, string) (*Status, error), id string, every time.Duration, progress func(*Status)) (*Status, error) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		st, err := status(ctx, id)
		if err != nil {
			return nil, err
		}
		if progress != nil {
			progress(st)
		}
		if st.IsFinal() {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("wait for graph %s: %w", id, ctx.Err())
		case <-t.C:
		}
	}
}

// Wait waits for graph id to finish (see the function Wait).
func (s *Scheduler) Wait(ctx context.Context, id string, progress func(*Status)) (*Status, error) {
	return Wait(ctx, s.Status, id, 20*time.Millisecond, progress)
}

// Result returns the stored result of task key (ErrNoResult if none).
func (s *Scheduler) Result(ctx context.Context, key string) ([]byte, error) {
	return s.store.Result(ctx, key)
}
