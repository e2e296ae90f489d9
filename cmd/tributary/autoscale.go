package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/tributary-dev/tributary/autoscale"
	"github.com/tributary-dev/tributary/internal/lease"
	"github.com/tributary-dev/tributary/internal/obs"
	"github.com/tributary-dev/tributary/internal/redisconn"
	"github.com/tributary-dev/tributary/speed/store"
)

func newAutoscaleCmd(g *globals) *cobra.Command {
	var (
		id, actuator, clusterDir, bin, metricsAddr, pools string
		speedAddrs, workerAddrs, infraScript, tfDir       string
		interval, leaseTTL, stopTimeout                   time.Duration
		speedP, batchP                                    autoscale.Policy
		qf                                                queueFlags
	)
	cmd := &cobra.Command{
		Use:   "autoscale",
		Short: "Size the speed and batch worker pools by lag and queue depth",
		Long: `Autoscale is a control loop: every --interval, if it holds the autoscaler
lease in Redis (run two: one acts, the other takes over when it dies), it
reads the speed layer's consumer lag (stream ends minus committed offsets)
and the asynq queue depth, and resizes the pools within their bounds, with a
cooldown between resizes and hysteresis on the way down (--down-below,
--down-after). --actuator local starts and stops bin/tributary speed|worker
processes of scripts/cluster.sh (SIGTERM on the way down, so that partitions
hand over); --actuator gcp runs infra/scripts/infra.sh scale (untested
against a real project).`,
		Example: "  set -a; . .run/cluster/env; set +a; tributary autoscale --speed-max 4 --metrics-addr 127.0.0.1:9109",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if id == "" {
				host, _ := os.Hostname()
				id = host + "-" + strconv.Itoa(os.Getpid())
			}
			rdb, _, err := redisconn.OpenClient(ctx, g.redisURL, 0)
			if err != nil {
				return err
			}
			defer rdb.Close()
			policies := map[autoscale.Kind]autoscale.Policy{}
			for _, p := range strings.Split(pools, ",") {
				switch strings.TrimSpace(p) {
				case "speed":
					policies[autoscale.Speed] = speedP
				case "batch":
					policies[autoscale.Batch] = batchP
				default:
					return fmt.Errorf("--pools: %q is neither speed nor batch", p)
				}
			}
			var act autoscale.Actuator
			switch actuator {
			case "local":
				if clusterDir == "" {
					return errors.New("--cluster-dir (or TRIBUTARY_CLUSTER_DIR) is needed by the local actuator")
				}
				if bin == "" {
					if bin, err = os.Executable(); err != nil {
						return err
					}
				}
				sa, wa := splitList(speedAddrs), splitList(workerAddrs)
				act = &autoscale.Local{Dir: clusterDir, Bin: bin, Env: os.Environ(), StopTimeout: stopTimeout,
					Args: func(k autoscale.Kind, i int) []string {
						if k == autoscale.Speed {
							return []string{"speed", "--worker-id", "speed" + strconv.Itoa(i), "--metrics-addr", nth(sa, i)}
						}
						return []string{"worker", "--id", "worker" + strconv.Itoa(i), "--metrics-addr", nth(wa, i)}
					}}
			case "gcp":
				act = &autoscale.GCP{Script: infraScript, TFDir: tfDir,
					Default: map[autoscale.Kind]int{autoscale.Speed: speedP.Min, autoscale.Batch: batchP.Min}}
			default:
				return fmt.Errorf("--actuator %q: local or gcp", actuator)
			}
			ends := &streamEnds{url: g.amqpURL, streams: g.streams}
			defer ends.close()
			reader := store.NewReader(rdb, g.keyPrefix)
			sig := autoscale.Signals{
				Ends: ends.get,
				Offsets: func(ctx context.Context) ([]int64, error) {
					offs := make([]int64, g.streams.Partitions)
					for p := range offs {
						st, err := reader.Partition(ctx, p)
						if err != nil {
							return nil, err
						}
						offs[p] = st.Offset
					}
					return offs, nil
				},
				Inspector: asynq.NewInspectorFromRedisClient(rdb),
				Queues:    qf.queues(g).All(),
			}
			reg := obs.NewRegistry()
			loop, err := autoscale.New(autoscale.Config{
				Leader: lease.New(rdb, g.keyPrefix+":autoscale:leader", id, leaseTTL),
				Signal: sig, Actuator: act, Policies: policies, Interval: interval,
				Log: g.log.With("autoscaler", id), Reg: reg,
			})
			if err != nil {
				return err
			}
			eg, ctx := errgroup.WithContext(ctx)
			eg.Go(func() error { return obs.NewMetricsServer(metricsAddr, reg, g.log).Run(ctx) })
			eg.Go(func() error { return loop.Run(ctx) })
			return eg.Wait()
		},
	}
	f := cmd.Flags()
	f.StringVar(&id, "id", "", "unique autoscaler name (default hostname-pid)")
	f.StringVar(&pools, "pools", "speed,batch", "pools to size: speed, batch or both")
	f.StringVar(&actuator, "actuator", "local", "local (processes of scripts/cluster.sh) or gcp (infra/scripts/infra.sh scale)")
	f.StringVar(&clusterDir, "cluster-dir", os.Getenv("TRIBUTARY_CLUSTER_DIR"), "the cluster's directory (pids/, logs/): local actuator")
	f.StringVar(&bin, "bin", "", "the tributary binary the local actuator starts (default: this one)")
	f.StringVar(&speedAddrs, "speed-metrics", "", "comma-separated /metrics addresses of speed workers 1, 2, ... (past the list: an ephemeral port)")
	f.StringVar(&workerAddrs, "worker-metrics", "", "comma-separated /metrics addresses of batch workers 1, 2, ... (past the list: an ephemeral port)")
	f.DurationVar(&stopTimeout, "stop-timeout", 30*time.Second, "how long a worker stopped by the local actuator has to drain before SIGKILL")
	f.StringVar(&infraScript, "infra-script", "infra/scripts/infra.sh", "the infra script the gcp actuator runs")
	f.StringVar(&tfDir, "tf-dir", "infra/terraform", "the Terraform directory where infra.sh keeps the counts (gcp actuator)")
	f.DurationVar(&interval, "interval", 5*time.Second, "time between two decisions")
	f.DurationVar(&leaseTTL, "lease-ttl", 15*time.Second, "autoscaler lease TTL: a standby takes over about that long after the leader dies")
	f.StringVar(&metricsAddr, "metrics-addr", "127.0.0.1:9109", "address of /metrics (empty: none)")
	f.IntVar(&speedP.Min, "speed-min", 1, "fewest speed workers")
	f.IntVar(&speedP.Max, "speed-max", 4, "most speed workers (more than --partitions buys nothing)")
	f.Float64Var(&speedP.Target, "speed-target", 20000, "consumer lag (messages) one speed worker is meant to carry")
	f.IntVar(&batchP.Min, "batch-min", 1, "fewest batch workers")
	f.IntVar(&batchP.Max, "batch-max", 4, "most batch workers")
	f.Float64Var(&batchP.Target, "batch-target", 8, "queued tasks one batch worker is meant to carry")
	for _, p := range []*autoscale.Policy{&speedP, &batchP} {
		p.DownBelow, p.DownAfter, p.Cooldown, p.MaxStep = 0.5, 30*time.Second, 20*time.Second, 2
	}
	// One set of timing flags for both pools: they differ by their load unit, not their dynamics.
	f.Float64Var(&speedP.DownBelow, "down-below", 0.5, "shrink only when the load per worker, one worker less, stays under this fraction of the target")
	f.DurationVar(&speedP.DownAfter, "down-after", 30*time.Second, "how long the load must stay low before a shrink")
	f.DurationVar(&speedP.Cooldown, "cooldown", 20*time.Second, "least time between two resizes of a pool")
	f.IntVar(&speedP.MaxStep, "max-step", 2, "most workers added at once")
	cmd.PreRun = func(*cobra.Command, []string) {
		batchP.DownBelow, batchP.DownAfter, batchP.Cooldown, batchP.MaxStep = speedP.DownBelow, speedP.DownAfter, speedP.Cooldown, speedP.MaxStep
	}
	qf.add(cmd)
	return cmd
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// nth is the i-th (1-based) address of list, or an ephemeral port past it.
func nth(list []string, i int) string {
	if i <= len(list) {
		return list[i-1]
	}
	return "127.0.0.1:0"
}
