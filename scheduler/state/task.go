package state

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/scheduler/taskq"
)

// startScript decides whether a dispatched task runs, and hands it the
// results of its dependencies in the same round trip.
// KEYS[11] own result, KEYS[12..] dependency results. ARGV: key worker attempt
// Returns {action, dep results...}; action is "run", "memo" (its result
// exists: complete it without running) or "skip" (the graph stopped, the
// task is finished, or this is a stale dispatch of a re-dispatched task).
var startScript = script(`
if redis.call('HGET', META, 'state') ~= 'running' then return {'skip'} end
local st = redis.call('HGET', STATE, ARGV[1])
if st ~= 'q' and st ~= 'r' then return {'skip'} end
if (redis.call('HGET', ATTEMPT, ARGV[1]) or '0') ~= ARGV[3] then return {'skip'} end
if redis.call('EXISTS', KEYS[11]) == 1 then return {'memo'} end
redis.call('HSET', STATE, ARGV[1], 'r')
redis.call('HSET', RUNNING, ARGV[1], ARGV[2])
local r = {'run'}
for i = 12, #KEYS do r[#r + 1] = redis.call('GET', KEYS[i]) end
return r
`)

// Start actions.
const (
	ActionRun  = "run"
	ActionMemo = "memo"
	ActionSkip = "skip"
)

// ErrMissingDep is returned when a dependency's result is gone (expired).
var ErrMissingDep = errors.New("dependency result missing")

// Start records that worker starts attempt of task p and returns the action
// and, for ActionRun, the results of its dependencies in order.
func (s *Store) Start(ctx context.Context, p *taskq.Payload, attempt int, worker string) (string, [][]byte, error) {
	extra := make([]string, 0, 1+len(p.Deps))
	extra = append(extra, s.ResultKey(p.Key))
	for _, d := range p.Deps {
		extra = append(extra, s.ResultKey(d))
	}
	res, err := startScript.Run(ctx, s.rdb, s.graphKeys(p.Graph, extra...), p.Key, worker, strconv.Itoa(attempt)).Slice()
	if err != nil {
		return "", nil, fmt.Errorf("start %s/%s: %w", p.Graph, p.Key, err)
	}
	action, _ := res[0].(string)
	if action != ActionRun {
		return action, nil, nil
	}
	deps := make([][]byte, len(p.Deps))
	for i := range p.Deps {
		v, ok := res[1+i].(string)
		if !ok {
			return "", nil, fmt.Errorf("task %s/%s: result of %q: %w", p.Graph, p.Key, p.Deps[i], ErrMissingDep)
		}
		deps[i] = []byte(v)
	}
	return action, deps, nil
}

// completeScript is the fan-in: it stores the task's result, marks it done,
// decrements the pending counters of its dependents and enqueues into asynq
// those that reached zero, and finishes the graph after its last task, all
// atomically, so that no central process is needed between two tasks.
// KEYS[11] result key. ARGV: key result ttl_ms now memo(0|1)
// Returns {outcome, ready}: outcome 0 duplicate or graph stopped, 1 done, 2
// done and the graph finished.
var completeScript = script(`
if ARGV[5] ~= '1' then redis.call('SET', KEYS[11], ARGV[2], 'PX', ARGV[3]) end
local st = redis.call('HGET', STATE, ARGV[1])
if not st or st == 'd' or st == 'c' or st == 'f' then return {0, 0} end
redis.call('HDEL', RUNNING, ARGV[1])
redis.call('HSET', STATE, ARGV[1], 'd')
local done = redis.call('HINCRBY', META, 'done', 1)
redis.call('HINCRBY', STATS, 'tasks_done', 1)
if ARGV[5] == '1' then
  redis.call('HINCRBY', META, 'memo', 1)
  redis.call('HINCRBY', STATS, 'tasks_memoized', 1)
end
if redis.call('HGET', META, 'state') ~= 'running' then return {0, 0} end
local ready = 0
local out = redis.call('HGET', OUT, ARGV[1])
if out then
  local gid, q = redis.call('HGET', META, 'id'), redis.call('HGET', META, 'queue')
  for d in string.gmatch(out, '[^\n]+') do
    if redis.call('HINCRBY', PENDING, d, -1) == 0 and redis.call('HGET', STATE, d) == 'w' then
      redis.call('HSET', STATE, d, 'q')
      enqueue(q, gid .. ':' .. d, redis.call('HGET', MSG, d), ARGV[4])
      ready = ready + 1
    end
  end
end
if done >= tonumber(redis.call('HGET', META, 'total')) then
  finish('done', ARGV[4])
  return {2, ready}
end
return {1, ready}
`)

// Completion is what Complete did.
type Completion struct {
	// Counted is false for a duplicate completion (a task run twice after a
	// worker loss) or a graph that stopped meanwhile.
	Counted bool
	// Ready counts dependents enqueued.
	Ready int
	// GraphDone is true when this was the graph's last task.
	GraphDone bool
}

// Complete records task p's result (memo: it was found already stored) and
// enqueues the dependents that became ready. It is one script call.
func (s *Store) Complete(ctx context.Context, p *taskq.Payload, result []byte, memo bool) (Completion, error) {
	m := "0"
	if memo {
		m = "1"
	}
	ttl := p.ResultTTLMS
	if ttl <= 0 {
		ttl = 24 * 3600 * 1000
	}
	res, err := completeScript.Run(ctx, s.rdb, s.graphKeys(p.Graph, s.ResultKey(p.Key)), p.Key, result, ttl, nowNS(), m).Int64Slice()
	if err != nil {
		return Completion{}, fmt.Errorf("complete %s/%s: %w", p.Graph, p.Key, err)
	}
	return Completion{Counted: res[0] > 0, Ready: int(res[1]), GraphDone: res[0] == 2}, nil
}

// failScript records the final failure of a task: the task is failed and,
// if the graph was running, the graph fails with the task's error and every
// waiting or queued task (its dependents among them) is cancelled.
// ARGV: key error now. Returns 1 when the graph failed now, 0 otherwise.
var failScript = script(`
local st = redis.call('HGET', STATE, ARGV[1])
if not st or st == 'd' or st == 'f' then return 0 end
redis.call('HSET', STATE, ARGV[1], 'f')
redis.call('HDEL', RUNNING, ARGV[1])
redis.call('HINCRBY', META, 'failed', 1)
if redis.call('HGET', META, 'state') ~= 'running' then return 0 end
redis.call('HSET', META, 'error', ARGV[2], 'error_key', ARGV[1])
cancel_pending()
finish('failed', ARGV[3])
return 1
`)

// Fail records that task key of graph id failed for good with errMsg; it
// reports whether that failed the graph (false: the graph had already stopped).
func (s *Store) Fail(ctx context.Context, id, key, errMsg string) (bool, error) {
	n, err := failScript.Run(ctx, s.rdb, s.graphKeys(id), key, errMsg, nowNS()).Int()
	if err != nil {
		return false, fmt.Errorf("fail %s/%s: %w", id, key, err)
	}
	return n == 1, nil
}

// Running returns the running tasks of graph id and their workers.
func (s *Store) Running(ctx context.Context, id string) (map[string]string, error) {
	m, err := s.rdb.HGetAll(ctx, s.key(id, "running")).Result()
	if err != nil {
		return nil, fmt.Errorf("graph %s running tasks: %w", id, err)
	}
	return m, nil
}

// redispatchScript re-enqueues a task whose worker died, under a new asynq
// task ID, if it is still running on that worker at the expected attempt.
// ARGV: key worker attempt new_attempt new_task_id msg now. Returns 1 if done.
var redispatchScript = script(`
if redis.call('HGET', META, 'state') ~= 'running' then return 0 end
if redis.call('HGET', RUNNING, ARGV[1]) ~= ARGV[2] then return 0 end
if redis.call('HGET', STATE, ARGV[1]) ~= 'r' then return 0 end
if (redis.call('HGET', ATTEMPT, ARGV[1]) or '0') ~= ARGV[3] then return 0 end
redis.call('HSET', ATTEMPT, ARGV[1], ARGV[4])
redis.call('HSET', STATE, ARGV[1], 'q')
redis.call('HDEL', RUNNING, ARGV[1])
enqueue(redis.call('HGET', META, 'queue'), ARGV[5], ARGV[6], ARGV[7])
return 1
`)

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
