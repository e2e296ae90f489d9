package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"

	"github.com/hibiken/asynqmon"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/tributary-dev/tributary/internal/httpx"
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
		cfg    scheduler.Config
		qf     queueFlags
		addr   string
		cron   string
		tokens httpx.Tokens
		prof   string
	)
	cmd := &cobra.Command{
		Use:   "scheduler",
		Short: "Accept graphs (HTTP API), enqueue their tasks, sweep up after crashes (one leader among replicas); asynqmon at /monitoring",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if tokens.Admin == "" {
				if !loopback(addr) {
					return fmt.Errorf("--http-addr %s is reachable from other hosts: set --admin-token (the API submits and cancels graphs)", addr)
				}
				if tokens.Read != "" {
					return errors.New("--read-token needs --admin-token")
				}
				g.log.Warn("the scheduler's API and /monitoring/ are open to local processes: set --admin-token to guard them", "addr", addr)
			}
			stop, err := startCPUProfile(prof)
			if err != nil {
				return err
			}
			defer stop()
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
			// asynqmon gets its own connection options: it closes its client on Close.
			mon := asynqmon.New(asynqmon.Options{RootPath: "/monitoring", RedisConnOpt: ropt.Asynq()})
			defer mon.Close()
			api := schedulerAPI(s, mon, tokens)
			srv.Mux.Handle("/v1/", api)
			srv.Mux.Handle("/monitoring/", api)
			eg, ctx := errgroup.WithContext(ctx)
			eg.Go(func() error { return srv.Run(ctx) })
			eg.Go(func() error { return s.Run(ctx) })
			return eg.Wait()
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "http-addr", "127.0.0.1:8090", "address of the HTTP API, /monitoring (asynqmon), /metrics and /healthz")
	f.StringVar(&tokens.Admin, "admin-token", "", "bearer token of the API and /monitoring/ (empty: open, on a loopback address only)")
	f.StringVar(&tokens.Read, "read-token", "", "bearer token of the API's GET endpoints, besides the admin token (empty: they need the admin token)")
	f.DurationVar(&cfg.LeaseTTL, "lease-ttl", scheduler.DefaultLeaseTTL, "leader lease TTL: a standby takes over within about this after the leader dies")
	f.DurationVar(&cfg.SweepInterval, "sweep-interval", scheduler.DefaultSweepInterval, "how often the leader sweeps up after crashes")
	f.IntVar(&cfg.Chunk, "chunk", scheduler.DefaultChunk, "most ready tasks of a graph dispatched as one asynq task (1: one task per asynq task); bounded by the ready tasks over the live workers' slots")
	f.DurationVar(&cfg.Defaults.Timeout, "task-timeout", scheduler.DefaultDefaults.Timeout, "default timeout of one attempt of a task")
	f.IntVar(&cfg.Defaults.MaxRetries, "task-retries", scheduler.DefaultDefaults.MaxRetries, "default number of retries of a failing task")
	f.DurationVar(&cfg.Defaults.ResultTTL, "result-ttl", scheduler.DefaultDefaults.ResultTTL, "default lifetime of results in the store (memoization lasts as long)")
	f.DurationVar(&cfg.Defaults.GraphTTL, "graph-ttl", scheduler.DefaultDefaults.GraphTTL, "lifetime of a finished graph's state")
	f.StringVar(&cfg.ID, "id", "", "replica ID (default host-pid-random)")
	f.StringVar(&cron, "batch-cron", "", `cron schedule of the batch recompute, e.g. "*/1 * * * *" or "@every 1m" (empty: none); only the leader enqueues it`)
	f.StringVar(&prof, "cpuprofile", "", "write a CPU profile of the whole run to this file (a profiling aid, see bench/scheduler.sh)")
	_ = f.MarkHidden("cpuprofile")
	qf.add(cmd)
	return cmd
}

// schedulerAPI guards the scheduler's HTTP API and asynqmon with the tokens:
// GET and HEAD under /v1/ need the read token (the admin token when no read
// token is set), anything else and the whole of /monitoring/ (which shows
// task payloads and deletes tasks) the admin token. Without an admin token
// nothing is guarded: the command allows that on loopback addresses only.
func schedulerAPI(s *scheduler.Scheduler, mon http.Handler, tokens httpx.Tokens) http.Handler {
	mux := http.NewServeMux()
	s.Register(mux)
	mux.Handle("/monitoring/", mon)
	if tokens.Admin == "" {
		return mux
	}
	if tokens.Read == "" {
		tokens.Read = tokens.Admin
	}
	read, admin := tokens.Require(httpx.ReadLevel, mux), tokens.Require(httpx.AdminLevel, mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.HasPrefix(r.URL.Path, "/v1/") {
			read.ServeHTTP(w, r)
			return
		}
		admin.ServeHTTP(w, r)
	})
}

// loopback reports whether addr (host:port) listens on loopback only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
