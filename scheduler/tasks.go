package scheduler

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/scheduler/internal/state"
	"github.com/tributary-dev/tributary/scheduler/taskq"
)

// TaskRecorder is the workers' side of the task state machine: it applies
// the events a worker causes (start, complete, fail) and keeps the worker's
// advertisement, through the same scripts as the scheduler. Starts and
// completions of concurrent handlers are coalesced into one round trip.
// It is safe for concurrent use.
type TaskRecorder struct {
	store *state.Store
	co    *state.Coalescer
}

// NewTaskRecorder returns a recorder on the graphs under prefix. Under
// load, a flush waits window for more calls to coalesce (0: none).
func NewTaskRecorder(rdb redis.UniversalClient, prefix string, window time.Duration) *TaskRecorder {
	store := state.New(rdb, prefix)
	co := store.NewCoalescer()
	co.Window = window
	return &TaskRecorder{store: store, co: co}
}

// What Start tells a worker to do with a dispatched task.
const (
	// ActionRun: run it (the task is now running).
	ActionRun = state.ActionRun
	// ActionMemo: its result exists: Complete it (memo) without running.
	ActionMemo = state.ActionMemo
	// ActionSkip: do nothing (its graph stopped, it is final, or this
	// dispatch is stale).
	ActionSkip = state.ActionSkip
)

// ErrMissingDep is returned by Start when a dependency's result is gone.
var ErrMissingDep = state.ErrMissingDep

// Completion is what Complete did.
type Completion = state.Completion

// WorkerInfo is what a live worker advertises.
type WorkerInfo = state.WorkerInfo

// Start applies the start event to attempt of task p for worker; for
// ActionRun it returns the results of the task's dependencies in order.
func (r *TaskRecorder) Start(ctx context.Context, p *taskq.Payload, attempt int, worker string) (string, [][]byte, error) {
	return r.co.Start(ctx, p, attempt, worker)
}

// Chunk tasks: see state.StartReq, StartRes, CompleteReq, CompleteRes.
type (
	StartReq    = state.StartReq
	StartRes    = state.StartRes
	CompleteReq = state.CompleteReq
	CompleteRes = state.CompleteRes
)

// StartMany is Start for the tasks of a chunk, in one batch.
func (r *TaskRecorder) StartMany(ctx context.Context, reqs []StartReq) ([]StartRes, error) {
	return r.co.StartMany(ctx, reqs)
}

// CompleteMany is Complete for tasks of a chunk, in one batch.
func (r *TaskRecorder) CompleteMany(ctx context.Context, reqs []CompleteReq) ([]CompleteRes, error) {
	return r.co.CompleteMany(ctx, reqs)
}

// Runner is the runner recorded for a task that worker starts as a member
// of the chunk whose asynq task ID is chunk (state.Runner).
func Runner(worker, chunk string) string { return state.Runner(worker, chunk) }

// ParseRunner splits a runner into the worker and the chunk's asynq task ID.
func ParseRunner(r string) (worker, chunk string) { return state.ParseRunner(r) }

// Complete stores task p's result (memo: it was already stored), applies
// the complete event and enqueues the dependents that became ready.
func (r *TaskRecorder) Complete(ctx context.Context, p *taskq.Payload, result []byte, memo bool) (Completion, error) {
	return r.co.Complete(ctx, p, result, memo)
}

// Fail applies the fail event to task key of graph id; it reports whether
// that failed the graph (false: the graph had already stopped).
func (r *TaskRecorder) Fail(ctx context.Context, id, key, errMsg string) (bool, error) {
	return r.store.Fail(ctx, id, key, errMsg)
}

// Advertise records that worker w is alive for ttl (a heartbeat).
func (r *TaskRecorder) Advertise(ctx context.Context, w *WorkerInfo, ttl time.Duration) error {
	return r.store.Advertise(ctx, w, ttl)
}

// Withdraw removes worker id's advertisement (on a clean shutdown).
func (r *TaskRecorder) Withdraw(ctx context.Context, id string) error {
	return r.store.Withdraw(ctx, id)
}
