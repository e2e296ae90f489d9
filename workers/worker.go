package workers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/internal/asynqlog"
	"github.com/tributary-dev/tributary/scheduler"
	"github.com/tributary-dev/tributary/scheduler/taskq"
)

// Config configures a Worker.
type Config struct {
	Redis     redis.UniversalClient
	KeyPrefix string
	// Queues to serve and their priorities (taskq.DefaultQueues(KeyPrefix) if zero).
	Queues taskq.Queues
	// Concurrency is the number of asynq tasks a worker holds at once, from
	// asynq's dequeue to asynq's done: the tasks whose functions run, and
	// those in their state round trips (start, complete, asynq's done)
	// around it (default DefaultConcurrency). An asynq task may be a chunk
	// of several graph tasks (processChunk); the scheduler sizes chunks on
	// the live workers' concurrency, which each worker advertises.
	Concurrency int
	// Parallelism bounds the functions run at once, among the Concurrency
	// tasks held (default 2 x CPUs, at most Concurrency): CPU-bound (and
	// memory-hungry) functions run no more at once than they did when this
	// was the concurrency, while the round trips of short tasks overlap.
	Parallelism int
	// TaskCheckInterval is how long asynq sleeps when all queues look empty;
	// asynq's default (1 s) would be paid at every step of a chain.
	TaskCheckInterval time.Duration
	// DelayedTaskCheckInterval is how often retries that are due are moved
	// back to their queue (asynq's default: 5 s).
	DelayedTaskCheckInterval time.Duration
	// RetryDelay is the backoff before retry n (default: 100 ms x 2^n, at most 10 s, jittered).
	RetryDelay func(n int) time.Duration
	// Processors is the number of asynq servers the worker runs on the same
	// queues, sharing Concurrency (default DefaultProcessors, at most
	// Concurrency). asynq's processor dequeues one task at a time (a script
	// round trip per queue tried), which bounds a server's tasks/s whatever
	// its concurrency; more processors dequeue in parallel, and their
	// concurrent starts and completions coalesce into fewer round trips.
	// Each polls the queues every TaskCheckInterval when they are empty.
	Processors int
	// CoalesceWindow, if positive, is how long, under load, the worker
	// waits to coalesce the state updates (start, fan-in) of concurrent
	// tasks into one round trip; by default (0 or negative) it does not
	// wait: the calls that arrive during a round trip are coalesced into
	// the next. A lone task never waits. A window costs more than it says:
	// time.Sleep(200 µs) took ~1.3 ms on the 2-vCPU VM under load, a
	// millisecond added to every batch (docs/benchmarks-scheduler.md).
	CoalesceWindow time.Duration
	// Heartbeat is how often the worker advertises itself; its advertisement
	// lives 4 heartbeats, after which the scheduler considers it dead.
	Heartbeat time.Duration
	// ID names the worker (default host-pid-random).
	ID      string
	Log     *slog.Logger
	Metrics prometheus.Registerer
}

// Defaults of Config, chosen from measurements (bench/scheduler.sh,
// docs/benchmarks-scheduler.md, 2 workers on 2 vCPUs): 16 tasks
// held on 4 asynq servers ran 10,000 no-op tasks with the least CPU per
// task (scheduler and workers 225-300 µs, Redis 150-165 µs, 2.7 script
// calls), and the most tasks/s in one round of two (at load 40-50 the rates
// varied 2x between rounds), against 4 tasks on 1 server, the previous
// defaults (410-420 µs, 230 µs, 3.9 calls: one serial dequeue per task,
// state calls coalesced little), 8 on 2 and 16 on 2 in between. CPU-bound
// tasks are bounded by Parallelism (2 x CPUs, the previous concurrency),
// so the larger concurrency only adds tasks held in their round trips: at
// most Concurrency - Parallelism claimed but waiting for a run slot, the
// cost of this prefetch on the tail of a graph of long tasks. Re-measured
// after the binary payloads and one-script batches (three interleaved
// rounds at load 22-32): 32 tasks on 4 servers ran no-op tasks fastest
// (median 1,396 tasks/s against 1,163, 132-176 µs of worker CPU per task
// against 166-228) but halved CPU-bound trees (200 spin leaves: 47-48
// tasks/s against 81-86: one worker claims most leaves and runs them 4 at
// a time while the other idles), so the defaults stay.
const (
	DefaultConcurrency = 16
	DefaultProcessors  = 4
)

// Worker runs graph tasks with the functions of a registry.
type Worker struct {
	cfg  Config
	reg  *Registry
	rec  *scheduler.TaskRecorder
	run  chan struct{} // run slots: Parallelism functions at once
	m    *metrics
	log  *slog.Logger
	info scheduler.WorkerInfo
}

// New returns a worker; Run starts it.
func New(cfg Config, reg *Registry) (*Worker, error) {
	if cfg.Redis == nil || cfg.KeyPrefix == "" {
		return nil, errors.New("worker: Redis and KeyPrefix are required")
	}
	if cfg.Queues.Default == "" {
		cfg.Queues = taskq.DefaultQueues(cfg.KeyPrefix)
	}
	if err := cfg.Queues.CheckSlot(cfg.KeyPrefix); err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	if cfg.TaskCheckInterval <= 0 {
		cfg.TaskCheckInterval = 20 * time.Millisecond
	}
	if cfg.DelayedTaskCheckInterval <= 0 {
		cfg.DelayedTaskCheckInterval = time.Second
	}
	if cfg.RetryDelay == nil {
		cfg.RetryDelay = func(n int) time.Duration {
			d := min(100*time.Millisecond<<min(n, 10), 10*time.Second)
			return d/2 + rand.N(d/2+1)
		}
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	host, _ := os.Hostname()
	if cfg.ID == "" {
		cfg.ID = fmt.Sprintf("%s-%d-%04x", host, os.Getpid(), rand.N(1<<16))
	}
	m, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, fmt.Errorf("worker metrics: %w", err)
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Parallelism <= 0 {
		cfg.Parallelism = 2 * runtime.NumCPU()
	}
	cfg.Parallelism = min(cfg.Parallelism, cfg.Concurrency)
	if cfg.Processors <= 0 {
		cfg.Processors = DefaultProcessors
	}
	cfg.Processors = min(cfg.Processors, cfg.Concurrency)
	cfg.CoalesceWindow = max(cfg.CoalesceWindow, 0)
	w := &Worker{cfg: cfg, reg: reg, rec: scheduler.NewTaskRecorder(cfg.Redis, cfg.KeyPrefix, cfg.CoalesceWindow),
		run: make(chan struct{}, cfg.Parallelism), m: m, log: cfg.Log.With("worker", cfg.ID)}
	w.info = scheduler.WorkerInfo{ID: cfg.ID, Host: host, PID: os.Getpid(), Functions: reg.Names(), Queues: cfg.Queues.All(), Started: time.Now(),
		Concurrency: cfg.Concurrency}
	return w, nil
}

// ID is the worker's ID.
func (w *Worker) ID() string { return w.cfg.ID }

// Run serves tasks until ctx is done, then shuts down cleanly (running tasks
// get asynq's shutdown timeout, then are requeued) and withdraws the
// worker's advertisement.
func (w *Worker) Run(ctx context.Context) error {
	hb := &heartbeat{ads: w.rec, info: &w.info, interval: w.cfg.Heartbeat, log: w.log}
	if err := hb.start(ctx); err != nil {
		return err
	}
	srvs, err := w.startServers()
	if err != nil {
		return err
	}
	w.log.Info("worker started", "functions", w.info.Functions, "queues", w.info.Queues,
		"concurrency", w.cfg.Concurrency, "parallelism", w.cfg.Parallelism, "processors", len(srvs))
	hb.run(ctx)
	shutdown(srvs)
	hb.stop(ctx)
	w.log.Info("worker stopped")
	return nil
}

// startServers starts the worker's asynq servers (Config.Processors of
// them), sharing its concurrency.
func (w *Worker) startServers() ([]*asynq.Server, error) {
	queues := make(map[string]int)
	for _, q := range w.cfg.Queues.All() {
		queues[q] = max(w.cfg.Queues.Weights[q], 1)
	}
	conc, n := w.cfg.Concurrency, w.cfg.Processors
	mux := asynq.NewServeMux()
	mux.HandleFunc(taskq.TypeTask, w.ProcessTask)
	var srvs []*asynq.Server
	for i := range n {
		// Share the concurrency: processor i gets its part, at least 1.
		srv := w.newServer(queues, max(conc/n+btoi(i < conc%n), 1))
		if err := srv.Start(mux); err != nil {
			shutdown(srvs)
			return nil, fmt.Errorf("worker: start asynq server: %w", err)
		}
		srvs = append(srvs, srv)
	}
	return srvs, nil
}

// shutdown stops asynq servers in parallel, each waiting for its running
// tasks up to its shutdown timeout.
func shutdown(srvs []*asynq.Server) {
	var wg sync.WaitGroup
	for _, srv := range srvs {
		wg.Add(1)
		go func() { defer wg.Done(); srv.Shutdown() }()
	}
	wg.Wait()
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// newServer returns an asynq server on the worker's queues.
func (w *Worker) newServer(queues map[string]int, concurrency int) *asynq.Server {
	return asynq.NewServerFromRedisClient(w.cfg.Redis, asynq.Config{
		Concurrency:              concurrency,
		Queues:                   queues,
		StrictPriority:           w.cfg.Queues.Strict,
		TaskCheckInterval:        w.cfg.TaskCheckInterval,
		DelayedTaskCheckInterval: w.cfg.DelayedTaskCheckInterval,
		RetryDelayFunc:           func(n int, _ error, _ *asynq.Task) time.Duration { return w.cfg.RetryDelay(n) },
		Logger:                   asynqlog.Logger{L: w.log},
		LogLevel:                 asynq.WarnLevel,
		ShutdownTimeout:          5 * time.Second,
	})
}

// ProcessTask is the asynq handler of graph tasks: one task, or a chunk of
// them (processChunk).
func (w *Worker) ProcessTask(ctx context.Context, t *asynq.Task) error {
	if taskq.IsChunk(t.Payload()) {
		return w.processChunk(ctx, t.Payload())
	}
	p, err := taskq.DecodePayload(t.Payload())
	if err != nil {
		w.m.tasks.WithLabelValues("", outcomeInternal).Inc()
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	taskID, _ := asynq.GetTaskID(ctx)
	action, deps, err := w.rec.Start(ctx, p, taskq.Attempt(taskID), w.cfg.ID)
	if errors.Is(err, scheduler.ErrMissingDep) {
		return w.fail(ctx, p, err)
	}
	if err != nil {
		w.m.tasks.WithLabelValues(p.Func, outcomeInternal).Inc()
		return err
	}
	switch action {
	case scheduler.ActionSkip:
		w.m.tasks.WithLabelValues(p.Func, outcomeSkipped).Inc()
		return nil
	case scheduler.ActionMemo:
		if _, err := w.rec.Complete(ctx, p, nil, true); err != nil {
			return err
		}
		w.m.tasks.WithLabelValues(p.Func, outcomeMemo).Inc()
		return nil
	}
	fn, ok := w.reg.Lookup(p.Func)
	if !ok {
		return w.fail(ctx, p, Permanent(fmt.Errorf("function %q is not registered in worker %s", p.Func, w.cfg.ID)))
	}
	select { // a run slot (Parallelism)
	case w.run <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	start := time.Now()
	w.m.running.Inc()
	retried, _ := asynq.GetRetryCount(ctx)
	res, err := w.call(ctx, fn, p, deps, retried)
	w.m.running.Dec()
	<-w.run
	if err != nil {
		if ctx.Err() != nil {
			// Cancelled by asynq (graph cancelled, or shutdown): not a task failure.
			return err
		}
		maxRetry, _ := asynq.GetMaxRetry(ctx)
		if errors.Is(err, ErrPermanent) || retried >= maxRetry {
			return w.fail(ctx, p, err)
		}
		w.m.tasks.WithLabelValues(p.Func, outcomeRetry).Inc()
		w.log.Debug("task failed, will retry", "graph", p.Graph, "key", p.Key, "retried", retried, "err", err)
		return err
	}
	c, err := w.rec.Complete(ctx, p, res, false)
	if err != nil {
		// asynq retries the task; Start lets the same dispatch run again.
		w.m.tasks.WithLabelValues(p.Func, outcomeInternal).Inc()
		return err
	}
	w.m.duration.WithLabelValues(p.Func).Observe(time.Since(start).Seconds())
	if c.Counted {
		w.m.tasks.WithLabelValues(p.Func, outcomeDone).Inc()
	} else {
		w.m.tasks.WithLabelValues(p.Func, outcomeDupe).Inc()
	}
	return nil
}

// call runs fn under the task's timeout, turning a panic into an error.
func (w *Worker) call(ctx context.Context, fn Func, p *taskq.Payload, deps [][]byte, retried int) (res []byte, err error) {
	if p.TimeoutMS > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, time.Duration(p.TimeoutMS)*time.Millisecond,
			fmt.Errorf("task %q timed out after %v", p.Key, time.Duration(p.TimeoutMS)*time.Millisecond))
		defer cancel()
		defer func() {
			if err != nil && ctx.Err() != nil {
				err = fmt.Errorf("%w (%w)", context.Cause(ctx), err)
			}
		}()
	}
	defer func() {
		if r := recover(); r != nil {
			err = Permanent(fmt.Errorf("function %q panicked: %v\n%s", p.Func, r, debug.Stack()))
		}
	}()
	return fn(ctx, Call{Graph: p.Graph, Key: p.Key, Args: p.Args, Deps: deps, Retried: retried})
}

// fail records the task's final failure, which fails its graph, and tells
// asynq not to retry (the task is archived, visible in asynqmon).
func (w *Worker) fail(ctx context.Context, p *taskq.Payload, cause error) error {
	if err := w.recordFail(ctx, p, cause); err != nil {
		return err
	}
	return fmt.Errorf("%w: %w", cause, asynq.SkipRetry)
}

// recordFail records task p's final failure, which fails its graph; the
// error is only that of recording it.
func (w *Worker) recordFail(ctx context.Context, p *taskq.Payload, cause error) error {
	w.m.tasks.WithLabelValues(p.Func, outcomeFailed).Inc()
	failed, err := w.rec.Fail(context.WithoutCancel(ctx), p.Graph, p.Key, cause.Error())
	if err != nil {
		return fmt.Errorf("%w (and recording the failure: %w)", cause, err)
	}
	if failed {
		w.m.graphsFailed.Inc()
		w.log.Warn("graph failed", "graph", p.Graph, "key", p.Key, "err", cause)
	}
	return nil
}
