package main

import (
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/tributary-dev/tributary/batch/archive"
	"github.com/tributary-dev/tributary/batch/reconcile"
	"github.com/tributary-dev/tributary/batch/segstore"
	"github.com/tributary-dev/tributary/internal/obs"
)

func newArchiveCmd(g *globals) *cobra.Command {
	var (
		cfg         archive.Config
		storeURL    string
		metricsAddr string
	)
	cmd := &cobra.Command{
		Use:   "archive",
		Short: "Write every event of every partition into immutable Parquet segments (the batch layer's master data set)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			rdb, err := schedulerRedis(ctx, g.redisURL, g.streams.Partitions)
			if err != nil {
				return err
			}
			defer rdb.Close()
			st, err := segstore.Open(ctx, storeURL)
			if err != nil {
				return err
			}
			defer st.Close()
			mreg := obs.NewRegistry()
			// The archiver is long-lived: it also exports the last
			// reconciliation and the current batch version.
			mreg.MustRegister(reconcile.NewCollector(rdb, g.keyPrefix))
			cfg.Redis, cfg.AMQPURL, cfg.Streams, cfg.KeyPrefix = rdb, g.amqpURL, g.streams, g.keyPrefix
			cfg.Store, cfg.StoreURL, cfg.Log, cfg.Metrics = st, storeURL, g.log, archive.NewMetrics(mreg)
			eg, ctx := errgroup.WithContext(ctx)
			eg.Go(func() error { return obs.NewMetricsServer(metricsAddr, mreg, g.log).Run(ctx) })
			eg.Go(func() error { return archive.Run(ctx, cfg) })
			return eg.Wait()
		},
	}
	f := cmd.Flags()
	f.StringVar(&storeURL, "store", "data/segments", "segment store: a directory (or file:///dir), gs://bucket/prefix or s3://bucket/prefix?region=R; batch workers must reach the same store")
	f.IntVar(&cfg.SegmentEvents, "segment-events", 100_000, "cut a segment after this many events")
	f.DurationVar(&cfg.SegmentInterval, "segment-interval", 30*time.Second, "cut a segment this long after its first message at the latest")
	f.IntVar(&cfg.Prefetch, "prefetch", 64, "unacknowledged deliveries per partition (a message carries up to ~1,000 events)")
	f.StringVar(&cfg.ID, "archiver-id", "", "this archiver's name among those sharing the partitions (default host-pid)")
	f.DurationVar(&cfg.LeaseTTL, "lease-ttl", 5*time.Second, "a dead archiver's partitions move to the others within this")
	f.StringVar(&metricsAddr, "metrics-addr", "127.0.0.1:9103", "address of /metrics (empty: none)")
	return cmd
}
