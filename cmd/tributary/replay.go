package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/tributary-dev/tributary/ingest/replay"
	"github.com/tributary-dev/tributary/internal/obs"
	"github.com/tributary-dev/tributary/internal/redisconn"
)

// speedFlag parses --speed: a positive factor over real time, or "max".
type speedFlag float64

func (s *speedFlag) String() string {
	if *s == 0 {
		return "max"
	}
	return strconv.FormatFloat(float64(*s), 'g', -1, 64)
}

func (s *speedFlag) Set(v string) error {
	if v == "max" {
		*s = 0
		return nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 {
		return fmt.Errorf("%q is neither a positive factor nor max", v)
	}
	*s = speedFlag(f)
	return nil
}

func (s *speedFlag) Type() string { return "factor|max" }

func newReplayCmd(g *globals) *cobra.Command {
	var (
		cfg         replay.Config
		speed       speedFlag = 86400
		metricsAddr string
	)
	cmd := &cobra.Command{
		Use:   "replay",
		Short: "Replay the flights data set into the stream queues, in event-time order",
		Long: `Replay publishes the flights of the data set into the partitioned stream
queues, in event-time order, at SPEED times real time (86400 = one day of
flights per second) or as fast as the broker confirms (--speed max).

An event counts as sent once the broker confirmed it. A checkpoint in Redis
lets a killed replay continue where it stopped; rows after the last checkpoint
are sent again with their original sequence numbers, which consumers drop.`,
		Example: "  tributary replay --data data/flights-3m.parquet --speed max --limit 100000",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			rdb, err := newRedis(ctx, g.redisURL)
			if err != nil {
				return err
			}
			defer rdb.Close()
			reg := obs.NewRegistry()
			cfg.Streams, cfg.AMQPURL, cfg.Redis, cfg.KeyPrefix, cfg.Speed = g.streams, g.amqpURL, rdb, g.keyPrefix, float64(speed)
			cfg.Log, cfg.Metrics = g.log, replay.NewMetrics(reg)
			total := cfg.Limit
			if total <= 0 {
				total = -1
			}
			cfg.Progress = obs.NewProgress(os.Stderr, g.log, "rows", total, 5*time.Second)

			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			eg, ctx := errgroup.WithContext(ctx)
			eg.Go(func() error { return obs.NewMetricsServer(metricsAddr, reg, g.log).Run(ctx) })
			eg.Go(func() error {
				defer cancel()
				_, err := replay.Run(ctx, cfg)
				return err
			})
			err = eg.Wait()
			cfg.Progress.Finish()
			if cmd.Context().Err() != nil {
				g.log.Info("replay interrupted; run it again to continue from its checkpoint")
				return nil
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataPath, "data", "data/flights-3m.parquet", "the flights data set (Parquet)")
	f.Var(&speed, "speed", "factor over real time (86400 = a day of flights per second), or max")
	f.Int64Var(&cfg.Limit, "limit", 0, "replay only the first N flights of the data set (0 = all)")
	f.StringVar(&cfg.Encoding, "encoding", replay.DefaultEncoding, "message encoding: arrow (a batch per message) or json (one event per message)")
	f.IntVar(&cfg.BatchEvents, "batch-events", replay.DefaultBatchEvents, "largest number of events in one Arrow message")
	f.IntVar(&cfg.MaxInFlight, "max-in-flight", replay.DefaultMaxInFlight, "messages published and not yet confirmed, at most")
	f.StringVar(&cfg.Producer, "producer", replay.DefaultProducer, "producer name carried by every event, for deduplication")
	f.BoolVar(&cfg.Reset, "reset", false, "forget the checkpoint and start from the first row (consumers drop re-sent seqs of the same producer: use new streams or a new --producer)")
	f.DurationVar(&cfg.CheckpointEvery, "checkpoint-every", replay.DefaultCheckpointEvery, "how often the checkpoint is saved")
	f.StringVar(&metricsAddr, "metrics-addr", "127.0.0.1:9100", "address of /metrics (empty: none)")
	return cmd
}

// newRedis connects to Redis (one server, a Sentinel-managed primary or a
// Redis Cluster) and checks that it answers.
func newRedis(ctx context.Context, url string) (redis.UniversalClient, error) {
	c, _, err := redisconn.Open(ctx, url, 0)
	return c, err
}
