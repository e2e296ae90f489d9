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
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/tributary-dev/tributary/autoscale"
	"github.com/tributary-dev/tributary/internal/lease"
	"github.com/tributary-dev/tributary/internal/obs"
	"github.com/tributary-dev/tributary/internal/redisconn"
	"github.com/tributary-dev/tributary/speed/store"
)

// autoscaleOpts are the flags of `tributary autoscale`.
type autoscaleOpts struct {
	id, actuator, clusterDir, bin, metricsAddr, pools string
	speedAddrs, workerAddrs, infraScript, tfDir       string
	interval, leaseTTL, stopTimeout                   time.Duration
	speedP, batchP                                    autoscale.Policy
	qf                                                queueFlags
}

func newAutoscaleCmd(g *globals) *cobra.Command {
	o := &autoscaleOpts{}
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
		RunE:    func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context(), g) },
	}
	o.bind(cmd)
	return cmd
}

func (o *autoscaleOpts) run(ctx context.Context, g *globals) error {
	if o.id == "" {
		host, _ := os.Hostname()
		o.id = host + "-" + strconv.Itoa(os.Getpid())
	}
	rdb, _, err := redisconn.Open(ctx, g.redisURL, 0)
	if err != nil {
		return err
	}
	defer rdb.Close()
	policies, err := o.policies()
	if err != nil {
		return err
	}
	act, err := o.newActuator()
	if err != nil {
		return err
	}
	ends := &streamEnds{url: g.amqpURL, streams: g.streams}
	defer ends.close()
	reg := obs.NewRegistry()
	loop, err := autoscale.New(autoscale.Config{
		Leader: lease.New(rdb, g.keyPrefix+":autoscale:leader", o.id, o.leaseTTL),
		Signal: o.signals(g, rdb, ends), Actuator: act, Policies: policies, Interval: o.interval,
		Log: g.log.With("autoscaler", o.id), Reg: reg,
	})
	if err != nil {
		return err
	}
	eg, ctx := errgroup.WithContext(ctx)
	eg.Go(func() error { return obs.NewMetricsServer(o.metricsAddr, reg, g.log).Run(ctx) })
	eg.Go(func() error { return loop.Run(ctx) })
	return eg.Wait()
}

// policies are the sizing policies of the pools named by --pools.
func (o *autoscaleOpts) policies() (map[autoscale.Kind]autoscale.Policy, error) {
	policies := map[autoscale.Kind]autoscale.Policy{}
	for _, p := range strings.Split(o.pools, ",") {
		switch strings.TrimSpace(p) {
		case "speed":
			policies[autoscale.Speed] = o.speedP
		case "batch":
			policies[autoscale.Batch] = o.batchP
		default:
			return nil, fmt.Errorf("--pools: %q is neither speed nor batch", p)
		}
	}
	return policies, nil
}

// newActuator is the actuator --actuator names.
func (o *autoscaleOpts) newActuator() (autoscale.Actuator, error) {
	switch o.actuator {
	case "local":
		if o.clusterDir == "" {
			return nil, errors.New("--cluster-dir (or TRIBUTARY_CLUSTER_DIR) is needed by the local actuator")
		}
		bin := o.bin
		if bin == "" {
			var err error
			if bin, err = os.Executable(); err != nil {
				return nil, err
			}
		}
		sa, wa := splitList(o.speedAddrs), splitList(o.workerAddrs)
		return &autoscale.Local{Dir: o.clusterDir, Bin: bin, Env: os.Environ(), StopTimeout: o.stopTimeout,
			Args: func(k autoscale.Kind, i int) []string {
				if k == autoscale.Speed {
					return []string{"speed", "--worker-id", "speed" + strconv.Itoa(i), "--metrics-addr", nth(sa, i)}
				}
				return []string{"worker", "--id", "worker" + strconv.Itoa(i), "--metrics-addr", nth(wa, i)}
			}}, nil
	case "gcp":
		return &autoscale.GCP{Script: o.infraScript, TFDir: o.tfDir,
			Default: map[autoscale.Kind]int{autoscale.Speed: o.speedP.Min, autoscale.Batch: o.batchP.Min}}, nil
	default:
		return nil, fmt.Errorf("--actuator %q: local or gcp", o.actuator)
	}
}

// signals read the speed layer's lag (stream ends minus committed offsets)
// and the batch queues' depth.
func (o *autoscaleOpts) signals(g *globals, rdb redis.UniversalClient, ends *streamEnds) autoscale.Signals {
	reader := store.NewReader(rdb, g.keyPrefix, g.streams.Partitions)
	return autoscale.Signals{
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
		Queues:    o.qf.queues(g).All(),
	}
}

func (o *autoscaleOpts) bind(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.id, "id", "", "unique autoscaler name (default hostname-pid)")
	f.StringVar(&o.pools, "pools", "speed,batch", "pools to size: speed, batch or both")
	f.StringVar(&o.actuator, "actuator", "local", "local (processes of scripts/cluster.sh) or gcp (infra/scripts/infra.sh scale)")
	f.StringVar(&o.clusterDir, "cluster-dir", os.Getenv("TRIBUTARY_CLUSTER_DIR"), "the cluster's directory (pids/, logs/): local actuator")
	f.StringVar(&o.bin, "bin", "", "the tributary binary the local actuator starts (default: this one)")
	f.StringVar(&o.speedAddrs, "speed-metrics", "", "comma-separated /metrics addresses of speed workers 1, 2, ... (past the list: an ephemeral port)")
	f.StringVar(&o.workerAddrs, "worker-metrics", "", "comma-separated /metrics addresses of batch workers 1, 2, ... (past the list: an ephemeral port)")
	f.DurationVar(&o.stopTimeout, "stop-timeout", 30*time.Second, "how long a worker stopped by the local actuator has to drain before SIGKILL")
	f.StringVar(&o.infraScript, "infra-script", "infra/scripts/infra.sh", "the infra script the gcp actuator runs")
	f.StringVar(&o.tfDir, "tf-dir", "infra/terraform", "the Terraform directory where infra.sh keeps the counts (gcp actuator)")
	f.DurationVar(&o.interval, "interval", 5*time.Second, "time between two decisions")
	f.DurationVar(&o.leaseTTL, "lease-ttl", 15*time.Second, "autoscaler lease TTL: a standby takes over about that long after the leader dies")
	f.StringVar(&o.metricsAddr, "metrics-addr", "127.0.0.1:9109", "address of /metrics (empty: none)")
	f.IntVar(&o.speedP.Min, "speed-min", 1, "fewest speed workers")
	f.IntVar(&o.speedP.Max, "speed-max", 4, "most speed workers (more than --partitions buys nothing)")
	f.Float64Var(&o.speedP.Target, "speed-target", 20000, "consumer lag (messages) one speed worker is meant to carry")
	f.IntVar(&o.batchP.Min, "batch-min", 1, "fewest batch workers")
	f.IntVar(&o.batchP.Max, "batch-max", 4, "most batch workers")
	f.Float64Var(&o.batchP.Target, "batch-target", 8, "queued tasks one batch worker is meant to carry")
	for _, p := range []*autoscale.Policy{&o.speedP, &o.batchP} {
		p.DownBelow, p.DownAfter, p.Cooldown, p.MaxStep = 0.5, 30*time.Second, 20*time.Second, 2
	}
	// One set of timing flags for both pools: they differ by their load unit, not their dynamics.
	f.Float64Var(&o.speedP.DownBelow, "down-below", 0.5, "shrink only when the load per worker, one worker less, stays under this fraction of the target")
	f.DurationVar(&o.speedP.DownAfter, "down-after", 30*time.Second, "how long the load must stay low before a shrink")
	f.DurationVar(&o.speedP.Cooldown, "cooldown", 20*time.Second, "least time between two resizes of a pool")
	f.IntVar(&o.speedP.MaxStep, "max-step", 2, "most workers added at once")
	cmd.PreRun = func(*cobra.Command, []string) {
		o.batchP.DownBelow, o.batchP.DownAfter, o.batchP.Cooldown, o.batchP.MaxStep = o.speedP.DownBelow, o.speedP.DownAfter, o.speedP.Cooldown, o.speedP.MaxStep
	}
	o.qf.add(cmd)
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
