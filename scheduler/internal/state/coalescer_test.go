package state_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/scheduler/graph"
	"github.com/tributary-dev/tributary/scheduler/internal/state"
	"github.com/tributary-dev/tributary/scheduler/taskq"
)

func cleanup(rdb redis.UniversalClient, prefix, queue string) {
	ctx := context.Background()
	_ = asynq.NewInspectorFromRedisClient(rdb).DeleteQueue(queue, true)
	rdb.SRem(ctx, taskq.AllQueuesKey, queue)
	testenv.DeleteKeys(rdb, prefix+":*")
}

// filled is g with its ID and defaults filled in, as package scheduler
// submits it: a minute per attempt, retries retries, results kept an hour.
func filled(g *graph.Graph, retries int) *graph.Graph {
	full := *g
	full.ID = g.EffectiveID()
	full.ResultTTL = time.Hour
	full.Tasks = make([]graph.Task, len(g.Tasks))
	for i, t := range g.Tasks {
		t.Timeout = time.Minute
		t.MaxRetries = &retries
		full.Tasks[i] = t
	}
	return &full
}

func payload(t *testing.T, rdb redis.UniversalClient, prefix, id, key string) *taskq.Payload {
	t.Helper()
	raw, err := rdb.HGet(context.Background(), prefix+":{"+prefix+"}:graph:"+id+":msg", key).Bytes()
	if err != nil {
		t.Fatalf("message of %s: %v", key, err)
	}
	m, err := taskq.DecodeMessage(raw)
	if err != nil {
		t.Fatal(err)
	}
	p, err := taskq.DecodePayload(m.Payload)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCoalescedFanInExactlyOnce starts and completes the leaves of a graph
// (leaves -> 2 middles -> sink) from many goroutines at once, every leaf
// twice (a duplicate delivery), through one coalescer with a coalescing
// window, and checks that each leaf is counted once, that each middle is
// enqueued into asynq exactly once, and that the graph then finishes once.
func TestCoalescedFanInExactlyOnce(t *testing.T) {
	f := newFanIn(t)
	f.leavesTwice(t)
	f.middlesEnqueuedOnce(t)
	f.middlesAndSink(t)
}

// leaves is the number of leaves of the fan-in graph.
const leaves = 300

// fanIn is a submitted graph leaves -> 2 middles -> sink and a coalescer.
type fanIn struct {
	rdb           redis.UniversalClient
	prefix, queue string
	store         *state.Store
	sub           *state.Submission
	keys          []string
	m0, m1        string
	bt            *state.Coalescer
}

func newFanIn(t *testing.T) *fanIn {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	queue := taskq.DefaultQueues(prefix).Default
	t.Cleanup(func() { cleanup(rdb, prefix, queue) })
	ctx := context.Background()
	store := state.New(rdb, prefix)

	b := graph.New("coalesce")
	keys := b.Generate("l", "noop", leaves, nil)
	m0 := b.Task("m0", "noop", nil, keys[:leaves/2]...)
	m1 := b.Task("m1", "noop", nil, keys[leaves/2:]...)
	b.Task("s", "noop", nil, m0, m1)
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	sub, err := store.Submit(ctx, filled(g, 1), queue, time.Hour, state.Dispatch{})
	if err != nil {
		t.Fatal(err)
	}
	if sub.Enqueued != leaves {
		t.Fatalf("enqueued %d roots, want %d", sub.Enqueued, leaves)
	}
	bt := store.NewCoalescer()
	bt.Window = 300 * time.Microsecond
	bt.MaxBatch = 64

	return &fanIn{rdb: rdb, prefix: prefix, queue: queue, store: store, sub: sub, keys: keys, m0: m0, m1: m1, bt: bt}
}

// leavesTwice starts and completes every leaf twice, concurrently: each is
// counted once, the two middles become ready once each, the graph goes on.
func (f *fanIn) leavesTwice(t *testing.T) {
	ctx := context.Background()
	rdb, prefix, sub, keys, bt := f.rdb, f.prefix, f.sub, f.keys, f.bt
	var counted, ready, graphDone, runs atomic.Int64
	var wg sync.WaitGroup
	var start sync.WaitGroup
	start.Add(1)
	errs := make(chan error, 2*leaves)
	for i, k := range keys {
		p := payload(t, rdb, prefix, sub.ID, k)
		for dup := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start.Wait()
				action, deps, err := bt.Start(ctx, p, 0, fmt.Sprintf("w%d", dup))
				if err != nil {
					errs <- err
					return
				}
				switch action {
				case state.ActionRun:
					runs.Add(1)
					if len(deps) != 0 {
						errs <- fmt.Errorf("%s: %d deps", k, len(deps))
					}
				case state.ActionSkip:
					return // the other delivery completed it already
				default:
					errs <- fmt.Errorf("%s: action %q", k, action)
					return
				}
				c, err := bt.Complete(ctx, p, []byte(fmt.Sprint(i)), false)
				if err != nil {
					errs <- err
					return
				}
				if c.Counted {
					counted.Add(1)
				}
				ready.Add(int64(c.Ready))
				if c.GraphDone {
					graphDone.Add(1)
				}
			}()
		}
	}
	start.Done()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if counted.Load() != leaves || ready.Load() != 2 || graphDone.Load() != 0 {
		t.Fatalf("counted %d (want %d), ready %d (want 2), graph done %d (want 0); runs %d",
			counted.Load(), leaves, ready.Load(), graphDone.Load(), runs.Load())
	}
}

// middlesEnqueuedOnce: each middle is in asynq's pending list exactly once,
// the sink not yet.
func (f *fanIn) middlesEnqueuedOnce(t *testing.T) {
	ctx := context.Background()
	rdb, queue, sub := f.rdb, f.queue, f.sub
	// Each middle is in asynq's pending list exactly once, the sink not yet.
	ids, err := rdb.LRange(ctx, taskq.QueueKeyPrefix(queue)+"pending", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, id := range ids {
		seen[id]++
	}
	for _, k := range []string{"m0", "m1"} {
		if n := seen[taskq.TaskID(sub.ID, k, 0)]; n != 1 {
			t.Fatalf("%s enqueued %d times, want 1", k, n)
		}
	}
	if n := seen[taskq.TaskID(sub.ID, "s", 0)]; n != 0 {
		t.Fatalf("sink enqueued before its dependencies finished")
	}
}

// middlesAndSink runs the middles (their dependencies' results in order),
// then completes the sink three times at once: the graph finishes once.
func (f *fanIn) middlesAndSink(t *testing.T) {
	ctx := context.Background()
	rdb, prefix, store, sub, m0, m1, bt := f.rdb, f.prefix, f.store, f.sub, f.m0, f.m1, f.bt
	// The middles see their dependencies' results in order; the sink becomes
	// ready once; the graph finishes once, even with a duplicate completion.
	var wg2 sync.WaitGroup
	var ready2, done2 atomic.Int64
	for _, k := range []string{m0, m1} {
		p := payload(t, rdb, prefix, sub.ID, k)
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			action, deps, err := bt.Start(ctx, p, 0, "w")
			if err != nil || action != state.ActionRun || len(deps) != leaves/2 {
				t.Errorf("start %s: %v %q %d deps", k, err, action, len(deps))
				return
			}
			for i, d := range deps {
				if string(d) != fmt.Sprint(i+len(deps)*btoi(k == m1)) {
					t.Errorf("%s: dep %d is %q", k, i, d)
				}
			}
			c, err := bt.Complete(ctx, p, []byte(k), false)
			if err != nil {
				t.Error(err)
			}
			ready2.Add(int64(c.Ready))
		}()
	}
	wg2.Wait()
	if ready2.Load() != 1 {
		t.Fatalf("sink made ready %d times", ready2.Load())
	}
	ps := payload(t, rdb, prefix, sub.ID, "s")
	if a, _, err := bt.Start(ctx, ps, 0, "w"); err != nil || a != state.ActionRun {
		t.Fatalf("start sink: %v %q", err, a)
	}
	for range 3 {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			c, err := bt.Complete(ctx, ps, []byte("s"), false)
			if err != nil {
				t.Error(err)
			}
			if c.GraphDone {
				done2.Add(1)
			}
		}()
	}
	wg2.Wait()
	if done2.Load() != 1 {
		t.Fatalf("graph finished %d times", done2.Load())
	}
	st, err := store.Meta(ctx, sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != state.GraphDone || st.Done != leaves+3 || st.Running != 0 {
		t.Fatalf("status %+v", st)
	}
	stats, err := store.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stats["tasks_done"] != leaves+3 || stats["graphs_done"] != 1 {
		t.Fatalf("stats %v", stats)
	}
	// A finished graph's tasks are skipped.
	if a, _, err := bt.Start(ctx, ps, 0, "w"); err != nil || a != state.ActionSkip {
		t.Fatalf("start after the end: %v %q", err, a)
	}
}

// TestBatchedMemoAndCancel checks the memo action and the skip of a
// cancelled graph's tasks through the coalescer.
func TestBatchedMemoAndCancel(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	queue := taskq.DefaultQueues(prefix).Default
	t.Cleanup(func() { cleanup(rdb, prefix, queue) })
	ctx := context.Background()
	store := state.New(rdb, prefix)
	b := graph.New("memo")
	b.Task("a", "noop", nil)
	b.Task("b", "noop", nil)
	b.Task("c", "noop", nil, "a", "b")
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	sub, err := store.Submit(ctx, filled(g, 0), queue, time.Hour, state.Dispatch{})
	if err != nil {
		t.Fatal(err)
	}
	bt := store.NewCoalescer()
	pa, pb := payload(t, rdb, prefix, sub.ID, "a"), payload(t, rdb, prefix, sub.ID, "b")
	// a's result appears (another graph computed it) after the submission.
	if err := rdb.Set(ctx, store.ResultKey("a"), "x", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if a, _, err := bt.Start(ctx, pa, 0, "w"); err != nil || a != state.ActionMemo {
		t.Fatalf("start a: %v %q", err, a)
	}
	c, err := bt.Complete(ctx, pa, nil, true)
	if err != nil || !c.Counted {
		t.Fatalf("memo complete: %v %+v", err, c)
	}
	if v, _ := rdb.Get(ctx, store.ResultKey("a")).Result(); v != "x" {
		t.Fatalf("memoized result overwritten: %q", v)
	}
	if _, _, err := store.Cancel(ctx, sub.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if a, _, err := bt.Start(ctx, pb, 0, "w"); err != nil || a != state.ActionSkip {
		t.Fatalf("start b after cancel: %v %q", err, a)
	}
	st, err := store.Meta(ctx, sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != state.GraphCancelled || st.Memoized != 1 {
		t.Fatalf("status %+v", st)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
