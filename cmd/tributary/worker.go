package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/tributary-dev/tributary/batch/recompute"
	"github.com/tributary-dev/tributary/batch/reconcile"
	"github.com/tributary-dev/tributary/internal/obs"
	"github.com/tributary-dev/tributary/internal/redisconn"
	"github.com/tributary-dev/tributary/scheduler/taskq"
	"github.com/tributary-dev/tributary/speed/store"
	"github.com/tributary-dev/tributary/workers"
	"github.com/tributary-dev/tributary/workers/builtin"
)

// workerRegistrations are the packages whose functions every worker runs:
// add a package's Register here to make its functions available to graphs.
// The built-in test functions (testFunctions) come only with testFns.
func workerRegistrations(testFns bool) []workers.Registration {
	return []workers.Registration{builtinFunctions(testFns)}
}

// testFunctions are the built-in functions that exist for tests: they fail,
// fail at random or sleep on demand, and no production graph should reach
// them.
var testFunctions = map[string]bool{"fail": true, "flaky": true, "sleepsum": true}

// builtinFunctions registers the built-in functions, the test ones only
// when withTests.
func builtinFunctions(withTests bool) workers.Registration {
	return func(r *workers.Registry) error {
		all, err := workers.NewRegistry(builtin.Register)
		if err != nil {
			return err
		}
		for _, name := range all.Names() {
			if testFunctions[name] && !withTests {
				continue
			}
			fn, _ := all.Lookup(name)
			if err := r.Register(name, fn); err != nil {
				return err
			}
		}
		return nil
	}
}

// queueFlags are the queue settings that workers and schedulers must share.
type queueFlags struct {
	prefix string
	weak   bool
}

func (q *queueFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&q.prefix, "queue-prefix", "", "prefix of the asynq queues PREFIX}.default (interactive graphs at its head) and PREFIX}.batch (default: the key prefix; it must be the key prefix, whose Redis Cluster slot the queues share with the graphs)")
	cmd.Flags().BoolVar(&q.weak, "weighted-priority", false, "serve the default and batch queues by weight 3:1 instead of strictly by priority (interactive tasks stay at the head of default)")
}

func (q *queueFlags) queues(g *globals) taskq.Queues {
	p := q.prefix
	if p == "" {
		p = g.keyPrefix
	}
	qs := taskq.DefaultQueues(p)
	qs.Strict = !q.weak
	return qs
}

// schedulerRedis opens the Redis client of a scheduler, worker or graph
// command, with a pool large enough for concurrency connections in use. The
// URL names one server, a Sentinel-managed primary or a cluster (redisconn).
func schedulerRedis(ctx context.Context, url string, concurrency int) (redis.UniversalClient, error) {
	c, _, err := redisconn.Open(ctx, url, max(10*runtime.GOMAXPROCS(0), concurrency+16))
	return c, err
}

func newWorkerCmd(g *globals) *cobra.Command {
	var (
		cfg         workers.Config
		qf          queueFlags
		metricsAddr string
		testFns     bool
		cpuProfile  string
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run graph tasks: an asynq server with the registered functions (any number of them, anywhere)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			stop, err := startCPUProfile(cpuProfile)
			if err != nil {
				return err
			}
			defer stop()
			rdb, err := schedulerRedis(ctx, g.redisURL, cfg.Concurrency)
			if err != nil {
				return err
			}
			defer rdb.Close()
			reg, err := workers.NewRegistry(append(workerRegistrations(testFns), recompute.Register(rdb, g.log, func(prefix string) reconcile.SpeedReader {
				return store.NewReader(rdb, prefix, g.streams.Partitions)
			}))...)
			if err != nil {
				return err
			}
			mreg := obs.NewRegistry()
			cfg.Redis, cfg.KeyPrefix, cfg.Queues, cfg.Log, cfg.Metrics = rdb, g.keyPrefix, qf.queues(g), g.log, mreg
			w, err := workers.New(cfg, reg)
			if err != nil {
				return err
			}
			eg, ctx := errgroup.WithContext(ctx)
			eg.Go(func() error { return obs.NewMetricsServer(metricsAddr, mreg, g.log).Run(ctx) })
			eg.Go(func() error { return w.Run(ctx) })
			return eg.Wait()
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Concurrency, "concurrency", workers.DefaultConcurrency, "tasks held at once: running, or in their state round trips (see workers.Config)")
	f.IntVar(&cfg.Parallelism, "parallelism", 2*runtime.NumCPU(), "functions run at once, among the tasks held (at most --concurrency)")
	f.IntVar(&cfg.Processors, "processors", workers.DefaultProcessors, "asynq servers sharing --concurrency: dequeues in parallel")
	f.DurationVar(&cfg.CoalesceWindow, "coalesce-window", 0, "how long, under load, state updates wait to be coalesced with others (0: no wait, see workers.Config)")
	f.DurationVar(&cfg.TaskCheckInterval, "task-check-interval", 20*time.Millisecond, "how long asynq sleeps when the queues look empty (a chain pays it at every step)")
	f.DurationVar(&cfg.DelayedTaskCheckInterval, "retry-check-interval", time.Second, "how often due retries are moved back to their queue")
	f.DurationVar(&cfg.Heartbeat, "heartbeat", time.Second, "advertisement interval; a worker silent for 4 of them is dead and its running tasks are re-dispatched")
	f.StringVar(&cfg.ID, "id", "", "worker ID (default host-pid-random)")
	f.StringVar(&metricsAddr, "metrics-addr", "127.0.0.1:9102", "address of /metrics (empty: none)")
	f.BoolVar(&testFns, "test-functions", false, "also run the built-in test functions fail, flaky and sleepsum (for tests and fault drills)")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file (a profiling aid, see bench/scheduler.sh)")
	_ = f.MarkHidden("cpuprofile")
	qf.add(cmd)
	return cmd
}

// startCPUProfile starts a CPU profile written to path (nothing if empty);
// the returned function stops it.
func startCPUProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
