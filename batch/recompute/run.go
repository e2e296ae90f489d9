package recompute

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/scheduler"
	"github.com/tributary-dev/tributary/scheduler/graph"
)

// Submitter submits graphs and reports on them: a scheduler.Scheduler in
// process or a client.Client of a remote one.
type Submitter interface {
	Submit(ctx context.Context, g *graph.Graph) (*scheduler.Submitted, error)
	Status(ctx context.Context, id string) (*scheduler.Status, error)
}

// Submit builds and submits a recompute.
func Submit(ctx context.Context, sub Submitter, rdb redis.Cmdable, opts Options) (*Plan, *scheduler.Submitted, error) {
	g, plan, err := Build(ctx, rdb, opts)
	if err != nil {
		return nil, nil, err
	}
	res, err := sub.Submit(ctx, g)
	if err != nil {
		return plan, nil, fmt.Errorf("submit recompute v%d: %w", plan.Version, err)
	}
	return plan, res, nil
}

// Run submits a recompute and waits for it; progress (may be nil) sees every
// status polled. A graph that fails returns an error naming its failed task.
func Run(ctx context.Context, sub Submitter, rdb redis.Cmdable, opts Options, progress func(*scheduler.Status)) (*Plan, *scheduler.Status, error) {
	plan, res, err := Submit(ctx, sub, rdb, opts)
	if err != nil {
		return plan, nil, err
	}
	st, err := scheduler.Wait(ctx, sub.Status, res.ID, 5*time.Millisecond, progress)
	if err != nil {
		return plan, st, err
	}
	if st.State != scheduler.GraphDone {
		return plan, st, fmt.Errorf("recompute v%d %s: %s (task %s)", plan.Version, st.State, st.Error, st.ErrorKey)
	}
	return plan, st, nil
}
