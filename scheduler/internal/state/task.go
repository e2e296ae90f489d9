package state

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/scheduler/taskq"
)

// Start actions (start_batch.lua).
const (
	ActionRun  = "run"
	ActionMemo = "memo"
	ActionSkip = "skip"
)

// ErrMissingDep is returned when a dependency's result is gone (expired).
var ErrMissingDep = errors.New("dependency result missing")

// Completion is what a completion did.
type Completion struct {
	// Counted is false for a duplicate completion (a task run twice after a
	// worker loss) or a graph that stopped meanwhile.
	Counted bool
	// Ready counts dependents enqueued.
	Ready int
	// GraphDone is true when this was the graph's last task.
	GraphDone bool
}

// Fail records that task key of graph id failed for good with errMsg; it
// reports whether that failed the graph (false: the graph had already stopped).
func (s *Store) Fail(ctx context.Context, id, key, errMsg string) (bool, error) {
	n, err := failScript.Run(ctx, s.rdb, s.graphKeys(id), key, errMsg, nowNS()).Int()
	if err != nil {
		return false, fmt.Errorf("fail %s/%s: %w", id, key, err)
	}
	return n == 1, nil
}

// A task's runner, the value of its field in a graph's running hash, is the
// ID of the worker that started it, followed for a task run as a member of
// a chunk by a newline and the chunk's asynq task ID (a worker ID has no
// newline): the sweeper reads the worker, Cancel the asynq task to cancel.

// Runner returns the runner of a task started by worker, as a member of
// the chunk whose asynq task ID is chunk ("" if not in a chunk).
func Runner(worker, chunk string) string {
	if chunk == "" {
		return worker
	}
	return worker + "\n" + chunk
}

// ParseRunner splits a runner into the worker and the chunk's task ID.
func ParseRunner(r string) (worker, chunk string) {
	worker, chunk, _ = strings.Cut(r, "\n")
	return worker, chunk
}

// Running returns the running tasks of graph id and their runners (Runner).
func (s *Store) Running(ctx context.Context, id string) (map[string]string, error) {
	m, err := s.rdb.HGetAll(ctx, s.key(id, "running")).Result()
	if err != nil {
		return nil, fmt.Errorf("graph %s running tasks: %w", id, err)
	}
	return m, nil
}

// Redispatch re-enqueues task key of graph id, lost with worker, as a new
// dispatch; the lost dispatch, when asynq eventually retries it, is skipped.
func (s *Store) Redispatch(ctx context.Context, id, key, worker string) (bool, error) {
	pipe := s.rdb.Pipeline()
	msgC := pipe.HGet(ctx, s.key(id, "msg"), key)
	attC := pipe.HGet(ctx, s.key(id, "attempt"), key)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return false, fmt.Errorf("redispatch %s/%s: %w", id, key, err)
	}
	raw, err := msgC.Bytes()
	if err != nil {
		return false, fmt.Errorf("redispatch %s/%s: message: %w", id, key, err)
	}
	attempt, _ := strconv.Atoi(attC.Val())
	m, err := taskq.DecodeMessage(raw)
	if err != nil {
		return false, fmt.Errorf("redispatch %s/%s: %w", id, key, err)
	}
	m.ID = taskq.TaskID(id, key, attempt+1)
	n, err := redispatchScript.Run(ctx, s.rdb, s.graphKeys(id), key, worker, attempt, attempt+1, m.ID, m.Encode(), nowNS()).Int()
	if err != nil {
		return false, fmt.Errorf("redispatch %s/%s: %w", id, key, err)
	}
	return n == 1, nil
}
