package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/tributary-dev/tributary/batch/reconcile"
	"github.com/tributary-dev/tributary/internal/amqpconn"
	"github.com/tributary-dev/tributary/internal/obs"
	"github.com/tributary-dev/tributary/speed"
	"github.com/tributary-dev/tributary/speed/metrics"
)

func newSpeedCmd(g *globals) *cobra.Command {
	var (
		cfg         speed.Config
		metricsAddr string
	)
	cmd := &cobra.Command{
		Use:   "speed",
		Short: "Run a speed worker: real-time views in Redis, exactly once",
		Long: `Speed runs one speed-layer worker. Any number of workers share the stream
partitions through leases in Redis with fencing tokens; each consumes its
partitions from their committed offsets, aggregates the views of the flights
in memory and flushes them, with the new offsets, atomically every
--flush-interval. Workers can be started, stopped and killed at any time:
each event counts exactly once in the views.`,
		Example: "  tributary speed --flush-interval 500ms --metrics-addr 127.0.0.1:9101",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if cfg.WorkerID == "" {
				host, _ := os.Hostname()
				cfg.WorkerID = host + "-" + strconv.Itoa(os.Getpid())
			}
			rdb, err := newRedis(ctx, g.redisURL)
			if err != nil {
				return err
			}
			defer rdb.Close()
			dialer, err := amqpconn.New(g.amqpURL, "tributary-speed-"+cfg.WorkerID, g.log)
			if err != nil {
				return err
			}
			reg := obs.NewRegistry()
			cfg.Redis, cfg.Streams, cfg.KeyPrefix, cfg.Log = rdb, g.streams, g.keyPrefix, g.log
			cfg.Metrics = metrics.New(reg)
			// The speed keys of the hours the batch layer covers go once its
			// reconciliation is done (the coverage duty).
			cfg.Covered = reconcile.Covered(rdb, g.keyPrefix)

			eg, ctx := errgroup.WithContext(ctx)
			eg.Go(func() error { return obs.NewMetricsServer(metricsAddr, reg, g.log).Run(ctx) })
			eg.Go(func() error { return runSpeed(ctx, cfg, dialer, g.log) })
			return eg.Wait()
		},
	}
	f := cmd.Flags()
	f.DurationVar(&cfg.FlushInterval, "flush-interval", 500*time.Millisecond, "how often each partition's deltas and offset are written to Redis")
	f.DurationVar(&cfg.LeaseTTL, "lease-ttl", 5*time.Second, "partition lease and membership TTL: a dead worker's partitions move after about that long")
	f.DurationVar(&cfg.AllowedLateness, "allowed-lateness", time.Hour, "events older than a partition's highest event time minus this are left out of the views (and counted), unless they fill a gap in their producer's seqs (republished after a broker failure: applied)")
	f.DurationVar(&cfg.MaxFuture, "max-future", speed.DefaultMaxFuture, "events more than this ahead of a partition's highest event time are quarantined (reason \"future\") instead of moving it; negative: no bound")
	f.IntVar(&cfg.Prefetch, "prefetch", 200, "unacknowledged messages per partition (AMQP basic.qos)")
	f.StringVar(&cfg.WorkerID, "worker-id", "", "unique worker name (default hostname-pid)")
	f.DurationVar(&cfg.BucketTTL, "bucket-ttl", 0, "expire view keys this long after their last write (0 = never)")
	f.IntVar(&cfg.MaxPendingBuckets, "max-pending-buckets", 4096, "flush a partition early once it holds this many bucket deltas")
	f.StringVar(&metricsAddr, "metrics-addr", "127.0.0.1:9101", "address of /metrics (empty: none)")
	return cmd
}

// runSpeed runs the speed worker over a broker connection, and again over a
// new one (to the same node or another of the list) whenever the connection
// is lost, until ctx ends. A lost connection stops the worker cleanly: it
// flushes what it holds and hands its partitions over; the new run takes
// partitions back from their committed offsets in Redis, which are the same
// on every node of a replicated stream. Nothing is lost or counted twice,
// and the speed layer never waits for an operator.
func runSpeed(ctx context.Context, cfg speed.Config, dialer *amqpconn.Dialer, log *slog.Logger) error {
	for {
		conn, node, err := dialer.Dial(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		log.Info("speed worker connected to the broker", "node", amqpconn.Redact(node))
		cfg.AMQP = conn
		runCtx, cancel := context.WithCancel(ctx)
		closed := conn.NotifyClose(make(chan *amqp.Error, 1))
		causes := make(chan error, 1)
		go func() {
			select {
			case err, ok := <-closed:
				if ok && err != nil {
					causes <- err
				}
				cancel()
			case <-runCtx.Done():
			}
		}()
		err = speed.Run(runCtx, cfg)
		// Run may also return because its channels died with the connection.
		lost := conn.IsClosed()
		cancel()
		conn.Close()
		if ctx.Err() != nil {
			return err
		}
		if !lost {
			return err
		}
		var cause error
		select {
		case cause = <-causes:
		default:
		}
		log.Warn("broker connection lost; reconnecting", "node", amqpconn.Redact(node), "err", errors.Join(cause, err))
		dialer.Failed(node)
	}
}
