package main

import (
	"runtime"

	"github.com/hibiken/asynqmon"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/tributary-dev/tributary/internal/obs"
	"github.com/tributary-dev/tributary/internal/redisconn"
	"github.com/tributary-dev/tributary/scheduler"
)

// periodicGraphs are the graphs the leading scheduler submits on a schedule:
// add entries here (e.g. the batch layer's recomputation).
func periodicGraphs(g *globals, batchCron string) []scheduler.Periodic {
	return batchPeriodic(g, batchCron)
}

func newSchedulerCmd(g *globals) *cobra.Command {
	var (
		cfg  scheduler.Config
		qf   queueFlags
		addr string
		cron string
	)
	cmd := &cobra.Command{
		Use:   "scheduler",
		Short: "Accept graphs (HTTP API), enqueue their tasks, sweep up after crashes (one leader among replicas); asynqmon at /monitoring",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			rdb, ropt, err := redisconn.Open(ctx, g.redisURL, 10*runtime.GOMAXPROCS(0))
			if err != nil {
				return err
			}
			defer rdb.Close()
			mreg := obs.NewRegistry()
			cfg.Redis, cfg.KeyPrefix, cfg.Queues, cfg.Log, cfg.Metrics = rdb, g.keyPrefix, qf.queues(g), g.log, mreg
			cfg.Periodic = periodicGraphs(g, cron)
			s, err := scheduler.New(cfg)
			if err != nil {
				return err
			}
			srv := obs.NewMetricsServer(addr, mreg, g.log)
			s.Register(srv.Mux)
			// asynqmon gets its own connection options: it closes its client on Close.
			mon := asynqmon.New(asynqmon.Options{RootPath: "/monitoring", RedisConnOpt: ropt.Asynq()})
			defer mon.Close()
			srv.Mux.Handle("/monitoring/", mon)
			eg, ctx := errgroup.WithContext(ctx)
			eg.Go(func() error { return srv.Run(ctx) })
			eg.Go(func() error { return s.Run(ctx) })
			return eg.Wait()
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "http-addr", "127.0.0.1:8090", "address of the HTTP API, /monitoring (asynqmon), /metrics and /healthz")
	f.DurationVar(&cfg.LeaseTTL, "lease-ttl", scheduler.DefaultLeaseTTL, "leader lease TTL: a standby takes over within about this after the leader dies")
	f.DurationVar(&cfg.SweepInterval, "sweep-interval", scheduler.DefaultSweepInterval, "how often the leader sweeps up after crashes")
	f.DurationVar(&cfg.Defaults.Timeout, "task-timeout", scheduler.DefaultDefaults.Timeout, "default timeout of one attempt of a task")
	f.IntVar(&cfg.Defaults.MaxRetries, "task-retries", scheduler.DefaultDefaults.MaxRetries, "default number of retries of a failing task")
	f.DurationVar(&cfg.Defaults.ResultTTL, "result-ttl", scheduler.DefaultDefaults.ResultTTL, "default lifetime of results in the store (memoization lasts as long)")
	f.DurationVar(&cfg.Defaults.GraphTTL, "graph-ttl", scheduler.DefaultDefaults.GraphTTL, "lifetime of a finished graph's state")
	f.StringVar(&cfg.ID, "id", "", "replica ID (default host-pid-random)")
	f.StringVar(&cron, "batch-cron", "", `cron schedule of the batch recompute, e.g. "*/1 * * * *" or "@every 1m" (empty: none); only the leader enqueues it`)
	qf.add(cmd)
	return cmd
}
