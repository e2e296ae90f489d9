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

// chunk bounds the fields of one HSET, so that no single command is huge.
const chunk = 1000

// Submission is what Submit did.
type Submission struct {
	ID       string
	Created  bool // false: the graph already existed, nothing was done
	Memoized int  // tasks found already computed
	Enqueued int  // tasks enqueued at once
}

// Submit stores graph g (validated, its ID and defaults filled in by the
// caller) and enqueues its ready tasks on queue; a finished graph's keys
// live graphTTL. It takes a handful of round trips whatever the size of
// the graph (pipelines and scripts). A crash between the claim and the
// activation leaves the graph submitting; Resume finishes the job.
func (s *Store) Submit(ctx context.Context, g *graph.Graph, queue string, graphTTL time.Duration, d Dispatch) (*Submission, error) {
	created, err := s.Claim(ctx, g, queue, graphTTL, d)
	if err != nil {
		return nil, err
	}
	if !created {
		return &Submission{ID: g.ID}, nil
	}
	res, err := s.materialize(ctx, g, queue)
	if err != nil {
		return nil, err
	}
	res.Created = true
	return res, nil
}

// Dispatch is how a graph's ready tasks are handed to asynq (enqueue_ready
// in common.lua): up to Chunk tasks per asynq task (a chunk), but no more
// than needed to give each of the Slots asynq slots of the live workers
// one (the zero value: one task per asynq task).
type Dispatch struct {
	Chunk int // the largest chunk (1 or less: no chunks)
	Slots int // the live workers' asynq slots (their concurrency, summed) at submission
}

// Claim is Submit's first step: it creates graph g's record (submitting) and
// stores its spec, unless the graph exists (false). A submitter that dies
// right after it leaves a graph that Resume finishes.
func (s *Store) Claim(ctx context.Context, g *graph.Graph, queue string, graphTTL time.Duration, d Dispatch) (bool, error) {
	spec, err := json.Marshal(g)
	if err != nil {
		return false, fmt.Errorf("encode graph %s: %w", g.ID, err)
	}
	prio := g.Priority
	if prio == "" {
		prio = graph.Default
	}
	created, err := claimScript.Run(ctx, s.rdb, s.graphKeys(g.ID), g.ID, g.Name, string(prio), queue,
		len(g.Tasks), nowNS(), graphTTL.Milliseconds(), spec, max(d.Chunk, 1), max(d.Slots, 1)).Int()
	if err != nil {
		return false, fmt.Errorf("claim graph %s: %w", g.ID, err)
	}
	return created == 1, nil
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
func (s *Store) materialize(ctx context.Context, g *graph.Graph, queue string) (*Submission, error) {
	memo, err := s.memoized(ctx, g)
	if err != nil {
		return nil, err
	}
	w := s.newTaskWriter(ctx, g.ID)
	out := make(map[string][]string)
	var roots []string
	ttl := g.ResultTTL.Milliseconds()
	var tmax, rmax int64 = 1, 0 // a chunk's timeout per task (seconds) and retries
	for _, t := range g.Tasks {
		if memo[t.Key] {
			w.add("state", t.Key, Done.Code())
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
		payload, err := taskq.EncodePayload(&taskq.Payload{Graph: g.ID, Key: t.Key, Func: t.Func, Args: t.Args, Deps: t.Deps,
			TimeoutMS: t.Timeout.Milliseconds(), ResultTTLMS: ttl})
		if err != nil {
			return nil, fmt.Errorf("graph %s task %s: %w", g.ID, t.Key, err)
		}
		m := taskq.Message{Type: taskq.TypeTask, Payload: payload, ID: taskq.TaskID(g.ID, t.Key, 0), Queue: queue,
			Retry: *t.MaxRetries, Timeout: t.Timeout + time.Second}
		w.add("state", t.Key, Waiting.Code())
		w.add("pending", t.Key, pending)
		w.add("msg", t.Key, m.Encode())
		tmax = max(tmax, int64((m.Timeout+time.Second-1)/time.Second))
		rmax = max(rmax, int64(m.Retry))
	}
	for k, ds := range out {
		w.add("out", k, strings.Join(ds, "\n"))
	}
	w.flush()
	w.pipe.HSet(ctx, s.key(g.ID, "meta"), "done", len(memo), "memo", len(memo), "tmax", tmax, "rmax", rmax)
	if len(memo) > 0 {
		w.pipe.HIncrBy(ctx, s.statsKey(), "tasks_memoized", int64(len(memo)))
	}
	w.pipe.SAdd(ctx, taskq.AllQueuesKey, queue)
	if _, err := w.pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("graph %s: write tasks: %w", g.ID, err)
	}
	enq, err := s.activate(ctx, g.ID, roots)
	if err != nil {
		return nil, err
	}
	return &Submission{ID: g.ID, Memoized: len(memo), Enqueued: enq}, nil
}

// memoized returns the tasks of g whose result exists (one pipelined EXISTS
// per task).
func (s *Store) memoized(ctx context.Context, g *graph.Graph) (map[string]bool, error) {
	exists := make([]*redis.IntCmd, len(g.Tasks))
	pipe := s.rdb.Pipeline()
	for i, t := range g.Tasks {
		exists[i] = pipe.Exists(ctx, s.ResultKey(t.Key))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("graph %s: memo check: %w", g.ID, err)
	}
	memo := make(map[string]bool)
	for i, c := range exists {
		if c.Val() == 1 {
			memo[g.Tasks[i].Key] = true
		}
	}
	return memo, nil
}

// taskWriter queues the HSETs of a graph's per-task hashes in one pipeline,
// at most chunk fields per command.
type taskWriter struct {
	ctx    context.Context
	s      *Store
	id     string
	pipe   redis.Pipeliner
	fields map[string][]any // part -> pending field/value pairs
}

func (s *Store) newTaskWriter(ctx context.Context, id string) *taskWriter {
	return &taskWriter{ctx: ctx, s: s, id: id, pipe: s.rdb.Pipeline(), fields: make(map[string][]any)}
}

func (w *taskWriter) add(part, field string, value any) {
	f := append(w.fields[part], field, value)
	if len(f) >= 2*chunk {
		w.pipe.HSet(w.ctx, w.s.key(w.id, part), f...)
		f = nil
	}
	w.fields[part] = f
}

func (w *taskWriter) flush() {
	for _, part := range []string{"state", "pending", "msg", "out"} {
		if f := w.fields[part]; len(f) > 0 {
			w.pipe.HSet(w.ctx, w.s.key(w.id, part), f...)
		}
		delete(w.fields, part)
	}
}

// activate runs activate.lua: roots become ready and are enqueued, the graph
// runs (or is done at once). It returns how many tasks it enqueued.
func (s *Store) activate(ctx context.Context, id string, roots []string) (int, error) {
	args := make([]any, 0, 2+len(roots))
	args = append(args, id, nowNS())
	for _, r := range roots {
		args = append(args, r)
	}
	enq, err := activateScript.Run(ctx, s.rdb, s.graphKeys(id), args...).Int()
	if err != nil {
		return 0, fmt.Errorf("graph %s: activate: %w", id, err)
	}
	return max(enq, 0), nil
}

// Meta is a graph's stored record and the number of its running tasks
// (package scheduler's Status has the same fields and converts from it).
type Meta struct {
	ID        string
	Name      string
	Priority  string
	Queue     string
	State     GraphState
	Total     int64
	Done      int64 // includes Memoized
	Memoized  int64
	Running   int64
	Failed    int64
	Cancelled int64
	Error     string
	ErrorKey  string
	Created   time.Time
	Started   time.Time
	Finished  time.Time
}

// ErrNotFound is returned for an unknown (or expired) graph.
var ErrNotFound = errors.New("graph not found")

// Meta returns graph id's record.
func (s *Store) Meta(ctx context.Context, id string) (*Meta, error) {
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
	return &Meta{ID: m["id"], Name: m["name"], Priority: m["priority"], Queue: m["queue"], State: GraphState(m["state"]),
		Total: num("total"), Done: num("done"), Memoized: num("memo"), Running: running.Val(), Failed: num("failed"),
		Cancelled: num("cancelled"), Error: m["error"], ErrorKey: m["error_key"],
		Created: parseNS(m["created"]), Started: parseNS(m["started"]), Finished: parseNS(m["finished"])}, nil
}

// TaskStates returns the state of every task of graph id.
func (s *Store) TaskStates(ctx context.Context, id string) (map[string]TaskState, error) {
	m, err := s.rdb.HGetAll(ctx, s.key(id, "state")).Result()
	if err != nil {
		return nil, fmt.Errorf("graph %s tasks: %w", id, err)
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("graph %s: %w", id, ErrNotFound)
	}
	out := make(map[string]TaskState, len(m))
	for k, v := range m {
		out[k] = taskStateOf(v)
	}
	return out, nil
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
	seen := make(map[string]bool)
	for i := 1; i+1 < len(res); i += 2 {
		k, tid := res[i], ""
		if _, chunk := ParseRunner(res[i+1]); chunk != "" {
			tid = chunk // the chunk's members are all of this graph: cancel it once
		} else {
			var a int
			_, _ = fmt.Sscan(attempts[k], &a)
			tid = taskq.TaskID(id, k, a)
		}
		if !seen[tid] {
			seen[tid] = true
			running = append(running, tid)
		}
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
