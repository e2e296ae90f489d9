package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

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
			conn, err := amqp.DialConfig(g.amqpURL, amqp.Config{Properties: amqp.Table{"connection_name": "tributary-speed-" + cfg.WorkerID}})
			if err != nil {
				return fmt.Errorf("rabbitmq: %w", err)
			}
			defer conn.Close()
			reg := obs.NewRegistry()
			cfg.Redis, cfg.AMQP, cfg.Streams, cfg.KeyPrefix, cfg.Log = rdb, conn, g.streams, g.keyPrefix, g.log
			cfg.Metrics = metrics.New(reg)

			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			eg, ctx := errgroup.WithContext(ctx)
			eg.Go(func() error { return obs.NewMetricsServer(metricsAddr, reg, g.log).Run(ctx) })
			eg.Go(func() error {
				defer cancel()
				return speed.Run(ctx, cfg)
			})
			// The broker closing the connection ends the worker: its
			// partitions move to the other workers after the lease TTL.
			closed := conn.NotifyClose(make(chan *amqp.Error, 1))
			eg.Go(func() error {
				select {
				case err := <-closed:
					if err != nil {
						return fmt.Errorf("rabbitmq connection lost: %w", err)
					}
				case <-ctx.Done():
				}
				return nil
			})
			return eg.Wait()
		},
	}
	f := cmd.Flags()
	f.DurationVar(&cfg.FlushInterval, "flush-interval", 500*time.Millisecond, "how often each partition's deltas and offset are written to Redis")
	f.DurationVar(&cfg.LeaseTTL, "lease-ttl", 5*time.Second, "partition lease and membership TTL: a dead worker's partitions move after about that long")
	f.DurationVar(&cfg.AllowedLateness, "allowed-lateness", time.Hour, "events older than a partition's highest event time minus this are left out of the views (and counted)")
	f.IntVar(&cfg.Prefetch, "prefetch", 200, "unacknowledged messages per partition (AMQP basic.qos)")
	f.StringVar(&cfg.WorkerID, "worker-id", "", "unique worker name (default hostname-pid)")
	f.DurationVar(&cfg.BucketTTL, "bucket-ttl", 0, "expire view keys this long after their last write (0 = never)")
	f.IntVar(&cfg.MaxPendingBuckets, "max-pending-buckets", 4096, "flush a partition early once it holds this many bucket deltas")
	f.StringVar(&metricsAddr, "metrics-addr", "127.0.0.1:9101", "address of /metrics (empty: none)")
	return cmd
}
