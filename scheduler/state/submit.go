package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/scheduler/graph"
	"github.com/tributary-dev/tributary/scheduler/taskq"
)

// Defaults fill what a graph leaves unset.
type Defaults struct {
	Timeout    time.Duration // per attempt
	MaxRetries int
	ResultTTL  time.Duration
	// GraphTTL is how long a finished graph's state is kept.
	GraphTTL time.Duration
}

// chunk bounds the fields of one HSET, so that no single command is huge.
const chunk = 1000

// Submitted is what Submit did.
type Submitted struct {
	ID string
	// Created is false when the graph already existed (a second submission
	// of the same graph is a no-op).
	Created bool
	// Memoized counts tasks found already computed.
	Memoized int
	// Enqueued counts tasks enqueued at once.
	Enqueued int
}

// Submit stores graph g (validated by the caller) and enqueues its ready
// tasks on queue. It takes a handful of round trips whatever the size of the
// graph (pipelines and scripts). A crash between the claim and the activation
// leaves the graph "submitting"; Resume finishes the job.
func (s *Store) Submit(ctx context.Context, g *graph.Graph, queue string, d Defaults) (*Submitted, error) {
	id := g.EffectiveID()
	full := *g
	full.ID = id
	if full.ResultTTL == 0 {
		full.ResultTTL = d.ResultTTL
	}
	full.Tasks = make([]graph.Task, len(g.Tasks))
	for i, t := range g.Tasks {
		if t.Timeout == 0 {
			t.Timeout = d.Timeout
		}
		if t.MaxRetries == nil {
			r := d.MaxRetries
			t.MaxRetries = &r
		}
		full.Tasks[i] = t
	}
	spec, err := json.Marshal(&full)
	if err != nil {
		return nil, fmt.Errorf("encode graph %s: %w", id, err)
	}
	if full.Priority == "" {
		full.Priority = graph.Default
	}
	keys := s.graphKeys(id)
	created, err := claimScript.Run(ctx, s.rdb, keys, id, full.Name, string(full.Priority), queue,
		len(full.Tasks), nowNS(), d.GraphTTL.Milliseconds(), spec).Int()
	if err != nil {
		return nil, fmt.Errorf("claim graph %s: %w", id, err)
	}
	if created == 0 {
		return &Submitted{ID: id}, nil
	}
	res, err := s.materialize(ctx, &full, queue)
	if err != nil {
		return nil, err
	}
	res.Created = true
	return res, nil
}

// Resume finishes the submission of graph id if a crash interrupted it
// (state "submitting"); it does nothing otherwise.
func (s *Store) Resume(ctx context.Context, id string) (bool, error) {
	vals, err := s.rdb.HMGet(ctx, s.key(id, "meta"), "state", "queue").Result()
	if err != nil {
		return false, fmt.Errorf("graph %s: %w", id, err)
	}
	if st, _ := vals[0].(string); GraphState(st) != GraphSubmitting {
		return false, nil
	}
	queue, _ := vals[1].(string)
	spec, err := s.rdb.Get(ctx, s.key(id, "spec")).Bytes()
	if err != nil {
		return false, fmt.Errorf("graph %s spec: %w", id, err)
	}
	var g graph.Graph
	if err := json.Unmarshal(spec, &g); err != nil {
		return false, fmt.Errorf("graph %s spec: %w", id, err)
	}
	if _, err := s.materialize(ctx, &g, queue); err != nil {
		return false, err
	}
	return true, nil
}

// materialize writes the per-task state of a claimed graph (whose defaults
// are filled in) and activates it. Every write is idempotent, so it can be
// redone after a crash until the activation succeeds.
func (s *Store) materialize(ctx context.Context, g *graph.Graph, queue string) (*Submitted, error) {
	id, n := g.ID, len(g.Tasks)
	// Memoization: one pipelined EXISTS per task.
	exists := make([]*redis.IntCmd, n)
	pipe := s.rdb.Pipeline()
	for i, t := range g.Tasks {
		exists[i] = pipe.Exists(ctx, s.ResultKey(t.Key))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("graph %s: memo check: %w", id, err)
	}
	memo := make(map[string]bool)
	for i, c := range exists {
		if c.Val() == 1 {
			memo[g.Tasks[i].Key] = true
		}
	}
	out := make(map[string][]string)
	var roots []string
	stateF := make([]any, 0, 2*chunk)
	pendF := make([]any, 0, 2*chunk)
	msgF := make([]any, 0, 2*chunk)
	pipe = s.rdb.Pipeline()
	flush := func(force bool) {
		if len(stateF) >= 2*chunk || (force && len(stateF) > 0) {
			pipe.HSet(ctx, s.key(id, "state"), stateF...)
			stateF = stateF[:0:0]
		}
		if len(pendF) >= 2*chunk || (force && len(pendF) > 0) {
			pipe.HSet(ctx, s.key(id, "pending"), pendF...)
			pendF = pendF[:0:0]
		}
		if len(msgF) >= 2*chunk || (force && len(msgF) > 0) {
			pipe.HSet(ctx, s.key(id, "msg"), msgF...)
			msgF = msgF[:0:0]
		}
	}
	ttl := g.ResultTTL.Milliseconds()
	for _, t := range g.Tasks {
		if memo[t.Key] {
			stateF = append(stateF, t.Key, Done.Code())
			flush(false)
			continue
		}
		pending := 0
		for _, d := range t.Deps {
			if !memo[d] {
				pending++
				out[d] = append(out[d], t.Key)
			}
		}
		if pending == 0 {
			roots = append(roots, t.Key)
		}
		payload, err := taskq.EncodePayload(&taskq.Payload{Graph: id, Key: t.Key, Func: t.Func, Args: t.Args, Deps: t.Deps,
			TimeoutMS: t.Timeout.Milliseconds(), ResultTTLMS: ttl})
		if err != nil {
			return nil, fmt.Errorf("graph %s task %s: %w", id, t.Key, err)
		}
		m := taskq.Message{Type: taskq.TypeTask, Payload: payload, ID: taskq.TaskID(id, t.Key, 0), Queue: queue,
			Retry: *t.MaxRetries, Timeout: t.Timeout + time.Second}
		stateF = append(stateF, t.Key, Waiting.Code())
		pendF = append(pendF, t.Key, pending)
		msgF = append(msgF, t.Key, m.Encode())
		flush(false)
	}
	flush(true)
	outF := make([]any, 0, 2*chunk)
	for k, ds := range out {
		outF = append(outF, k, strings.Join(ds, "\n"))
		if len(outF) >= 2*chunk {
			pipe.HSet(ctx, s.key(id, "out"), outF...)
			outF = outF[:0:0]
		}
	}
	if len(outF) > 0 {
		pipe.HSet(ctx, s.key(id, "out"), outF...)
	}
	pipe.HSet(ctx, s.key(id, "meta"), "done", len(memo), "memo", len(memo))
	if len(memo) > 0 {
		pipe.HIncrBy(ctx, s.statsKey(), "tasks_memoized", int64(len(memo)))
	}
	pipe.SAdd(ctx, taskq.AllQueuesKey, queue)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("graph %s: write tasks: %w", id, err)
	}
	args := make([]any, 0, 2+len(roots))
	args = append(args, id, nowNS())
	for _, r := range roots {
		args = append(args, r)
	}
	enq, err := activateScript.Run(ctx, s.rdb, s.graphKeys(id), args...).Int()
	if err != nil {
		return nil, fmt.Errorf("graph %s: activate: %w", id, err)
	}
	return &Submitted{ID: id, Memoized: len(memo), Enqueued: max(enq, 0)}, nil
}

// Status is a graph's progress.
type Status struct {
	ID        string     `json:"id"`
	Name      string     `json:"name,omitempty"`
	Priority  string     `json:"priority"`
	Queue     string     `json:"queue"`
	State     GraphState `json:"state"`
	Total     int64      `json:"total"`
	Done      int64      `json:"done"` // includes Memoized
	Memoized  int64      `json:"memoized"`
	Running   int64      `json:"running"`
	Failed    int64      `json:"failed"`
	Cancelled int64      `json:"cancelled"`
	Error     string     `json:"error,omitempty"`
	ErrorKey  string     `json:"error_key,omitempty"`
	Created   time.Time  `json:"created"`
	Started   time.Time  `json:"started,omitzero"`
	Finished  time.Time  `json:"finished,omitzero"`
}

// IsFinal reports whether the graph reached a final state.
func (st *Status) IsFinal() bool {
	return st.State.IsFinal()
}

// ErrNotFound is returned for an unknown (or expired) graph.
var ErrNotFound = errors.New("graph not found")

// Status returns graph id's progress.
func (s *Store) Status(ctx context.Context, id string) (*Status, error) {
	pipe := s.rdb.Pipeline()
	meta := pipe.HGetAll(ctx, s.key(id, "meta"))
	running := pipe.HLen(ctx, s.key(id, "running"))
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("graph %s status: %w", id, err)
	}
	m := meta.Val()
	if len(m) == 0 {
		return nil, fmt.Errorf("graph %s: %w", id, ErrNotFound)
	}
	num := func(f string) int64 {
		var n int64
		_, _ = fmt.Sscan(m[f], &n)
		return n
	}
	return &Status{ID: m["id"], Name: m["name"], Priority: m["priority"], Queue: m["queue"], State: GraphState(m["state"]),
		Total: num("total"), Done: num("done"), Memoized: num("memo"), Running: running.Val(), Failed: num("failed"),
		Cancelled: num("cancelled"), Error: m["error"], ErrorKey: m["error_key"],
		Created: parseNS(m["created"]), Started: parseNS(m["started"]), Finished: parseNS(m["finished"])}, nil
}

// TaskStates returns the state of every task of graph id (waiting, queued,
// running, done, failed, cancelled).
func (s *Store) TaskStates(ctx context.Context, id string) (map[string]string, error) {
	m, err := s.rdb.HGetAll(ctx, s.key(id, "state")).Result()
	if err != nil {
		return nil, fmt.Errorf("graph %s tasks: %w", id, err)
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("graph %s: %w", id, ErrNotFound)
	}
	for k, v := range m {
		m[k] = string(taskStateOf(v))
	}
	return m, nil
}

// Spec returns the graph as submitted (defaults filled in).
func (s *Store) Spec(ctx context.Context, id string) (*graph.Graph, error) {
	b, err := s.rdb.Get(ctx, s.key(id, "spec")).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("graph %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("graph %s spec: %w", id, err)
	}
	var g graph.Graph
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("graph %s spec: %w", id, err)
	}
	return &g, nil
}

// ErrNoResult is returned for a key without a stored result.
var ErrNoResult = errors.New("no result")

// Result returns the stored result of task key.
func (s *Store) Result(ctx context.Context, key string) ([]byte, error) {
	b, err := s.rdb.Get(ctx, s.ResultKey(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("result of %q: %w", key, ErrNoResult)
	}
	if err != nil {
		return nil, fmt.Errorf("result of %q: %w", key, err)
	}
	return b, nil
}

// Cancel stops graph id. It returns the asynq task IDs of its running tasks
// and whether the graph was still running or submitting (false: it had
// already finished, nothing changed).
func (s *Store) Cancel(ctx context.Context, id, reason string) (running []string, changed bool, err error) {
	res, err := cancelScript.Run(ctx, s.rdb, s.graphKeys(id), nowNS(), reason).StringSlice()
	if err != nil {
		return nil, false, fmt.Errorf("cancel graph %s: %w", id, err)
	}
	if res[0] == "missing" {
		return nil, false, fmt.Errorf("graph %s: %w", id, ErrNotFound)
	}
	if gs := GraphState(res[0]); gs != GraphRunning && gs != GraphSubmitting {
		return nil, false, nil
	}
	attempts, _ := s.rdb.HGetAll(ctx, s.key(id, "attempt")).Result()
	for _, k := range res[1:] {
		var a int
		_, _ = fmt.Sscan(attempts[k], &a)
		running = append(running, taskq.TaskID(id, k, a))
	}
	return running, true, nil
}

// Active returns the graphs submitting or running.
func (s *Store) Active(ctx context.Context) ([]string, error) {
	ids, err := s.rdb.SMembers(ctx, s.activeKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("active graphs: %w", err)
	}
	return ids, nil
}

// Stats are cluster-wide counters kept by the scripts: graphs_done,
// graphs_failed, graphs_cancelled, tasks_done, tasks_memoized.
func (s *Store) Stats(ctx context.Context) (map[string]int64, error) {
	m, err := s.rdb.HGetAll(ctx, s.statsKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	out := make(map[string]int64, len(m))
	for k, v := range m {
		var n int64
		_, _ = fmt.Sscan(v, &n)
		out[k] = n
	}
	return out, nil
}
