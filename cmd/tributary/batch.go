package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/tributary-dev/tributary/batch/archive"
	"github.com/tributary-dev/tributary/batch/recompute"
	"github.com/tributary-dev/tributary/batch/reconcile"
	"github.com/tributary-dev/tributary/batch/view"
	"github.com/tributary-dev/tributary/internal/obs"
	"github.com/tributary-dev/tributary/scheduler"
	"github.com/tributary-dev/tributary/scheduler/client"
	"github.com/tributary-dev/tributary/scheduler/graph"
)

// batchPeriodic is the batch recompute on a cron schedule (e.g. "*/1 * * * *"),
// for `tributary scheduler --batch-cron`: only its leading replica enqueues it
// (asynq periodic tasks).
func batchPeriodic(g *globals, cron string) []scheduler.Periodic {
	if cron == "" {
		return nil
	}
	opts := recompute.Options{KeyPrefix: g.keyPrefix}
	return []scheduler.Periodic{{Name: "batch-recompute", Cron: cron, Build: func(ctx context.Context, _ time.Time) (*graph.Graph, error) {
		rdb, err := schedulerRedis(ctx, g.redisURL, 0)
		if err != nil {
			return nil, err
		}
		defer rdb.Close()
		gr, _, err := recompute.Build(ctx, rdb, opts)
		return gr, err
	}}}
}

func newBatchCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "batch",
		Short: "The batch layer: recompute the exact views from the archive (run), show the current version (status)",
	}
	cmd.AddCommand(newBatchRunCmd(g), newBatchStatusCmd(g))
	return cmd
}

func newBatchRunCmd(g *globals) *cobra.Command {
	var (
		opts  recompute.Options
		url   string
		token string
		wait  bool
		prio  string
		limit time.Duration
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Submit a recompute of the batch views now (through the scheduler; workers run it)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if limit > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, limit)
				defer cancel()
			}
			rdb, err := schedulerRedis(ctx, g.redisURL, 0)
			if err != nil {
				return err
			}
			defer rdb.Close()
			opts.KeyPrefix, opts.Priority = g.keyPrefix, graph.Priority(prio)
			cli := client.New(url).WithToken(token)
			plan, res, err := recompute.Submit(ctx, cli, rdb, opts)
			if err != nil {
				return err
			}
			g.log.Info("recompute submitted", "graph", res.ID, "version", plan.Version, "segments", plan.Segments,
				"boundary", time.Unix(plan.Boundary, 0).UTC(), "tasks", plan.Tasks(), "memoized", res.Memoized)
			if !wait {
				return nil
			}
			start := time.Now()
			bar := obs.NewProgress(os.Stderr, g.log, "tasks", int64(plan.Tasks()), 2*time.Second)
			st, err := scheduler.Wait(ctx, cli.Status, res.ID, 50*time.Millisecond, func(s *scheduler.Status) {
				bar.Set(s.Done, fmt.Sprintf("%s, %d running, %d memoized", s.State, s.Running, s.Memoized))
			})
			bar.Finish()
			if err != nil {
				return err
			}
			if st.State != scheduler.GraphDone {
				return fmt.Errorf("recompute v%d %s: %s (task %s)", plan.Version, st.State, st.Error, st.ErrorKey)
			}
			m, err := view.Current(ctx, rdb, g.keyPrefix)
			if err != nil {
				return err
			}
			g.log.Info("recompute done", "version", m.Version, "boundary", time.Unix(m.Boundary, 0).UTC(), "events", m.Events,
				"segments", m.Segments, "nodes", len(m.Nodes), "elapsed", time.Since(start).Round(time.Millisecond))
			// The graph's last task, after the publication, is the
			// reconciliation: --wait waited for it too.
			if r, err := reconcile.Last(ctx, rdb, g.keyPrefix); err != nil {
				return err
			} else if r != nil && r.Version == m.Version {
				g.log.Info("reconciled (after the publication; --wait includes it)", "version", r.Version, "buckets", r.Buckets,
					"count_mismatches", r.CountMismatches, "stats_mismatches", r.StatsMismatches, "missing_events", r.MissingEvents,
					"hours_by_digest", r.HoursByDigest, "hours_compared", r.HoursCompared)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&url, "scheduler-url", "http://127.0.0.1:8090", "scheduler HTTP API, or a comma-separated list of its replicas (a dead one is skipped)")
	f.StringVar(&token, "admin-token", "", "the scheduler's --admin-token, sent as a bearer token")
	f.BoolVar(&wait, "wait", false, "wait for the recompute and its reconciliation (which runs after the publication), with a progress bar")
	f.IntVar(&opts.FanIn, "fan-in", recompute.DefaultFanIn, "fan-in of the merge tree")
	f.DurationVar(&opts.Grace, "grace", recompute.DefaultGrace, "how long the previous version (and the speed buckets now covered) stay readable")
	f.DurationVar(&opts.NodeTTL, "memo-ttl", recompute.DefaultNodeTTL, "how long partials and unpublished nodes are memoized")
	f.StringVar(&prio, "priority", string(graph.Batch), "graph priority: interactive, default or batch")
	f.DurationVar(&limit, "timeout", 0, "give up waiting after this long (0: never)")
	return cmd
}

func newBatchStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Print the current batch version, the archive's progress and the last reconciliation (JSON)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			rdb, err := schedulerRedis(ctx, g.redisURL, 0)
			if err != nil {
				return err
			}
			defer rdb.Close()
			out, err := batchStatus(ctx, rdb, g.keyPrefix)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		},
	}
}

// batchStatus is the batch layer's state: the current version, the archive's
// progress and the last reconciliation (for `batch status` and serve's /v1/status).
func batchStatus(ctx context.Context, rdb redis.Cmdable, keyPrefix string) (map[string]any, error) {
	out := map[string]any{}
	if m, err := view.Current(ctx, rdb, keyPrefix); err == nil {
		out["current"] = map[string]any{"version": m.Version, "boundary": time.Unix(m.Boundary, 0).UTC(),
			"published_at": m.PublishedAt, "segments": m.Segments, "events": m.Events, "nodes": len(m.Nodes)}
	} else if !errors.Is(err, view.ErrNoView) {
		return nil, err
	}
	if st, err := archive.ReadState(ctx, rdb, keyPrefix); err == nil {
		var parts []map[string]any
		for _, p := range st.Partitions {
			parts = append(parts, map[string]any{"partition": p.Partition, "offset": p.Offset, "events": p.Events,
				"segments": len(p.Names), "duplicates": p.Duplicates, "quarantined": p.Quarantined,
				"complete_up_to": time.UnixMicro(p.MaxTime).UTC()})
		}
		out["archive"] = map[string]any{"store": st.StoreURL, "boundary": time.Unix(st.Boundary(), 0).UTC(), "partitions": parts}
	} else if !errors.Is(err, archive.ErrNoArchive) {
		return nil, err
	}
	if r, err := reconcile.Last(ctx, rdb, keyPrefix); err != nil {
		return nil, err
	} else if r != nil {
		out["reconcile"] = r
	}
	return out, nil
}
