package scheduler

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/internal/lease"
	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/scheduler/graph"
	"github.com/tributary-dev/tributary/scheduler/internal/state"
	"github.com/tributary-dev/tributary/scheduler/taskq"
)

// fakeClock is a Clock the test sets.
type fakeClock struct{ now atomic.Int64 }

func (c *fakeClock) Now() time.Time      { return time.Unix(0, c.now.Load()) }
func (c *fakeClock) Set(t time.Time)     { c.now.Store(t.UnixNano()) }
func (c *fakeClock) Add(d time.Duration) { c.now.Add(int64(d)) }

// dutyEnv is a scheduler (not running) on its own prefix, with a fake clock.
type dutyEnv struct {
	rdb   redis.UniversalClient
	sch   *Scheduler
	store *state.Store
	clock *fakeClock
	queue string
}

func newDutyEnv(t *testing.T) *dutyEnv {
	t.Helper()
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	qs := taskq.DefaultQueues(prefix)
	t.Cleanup(func() {
		taskq.DeleteQueues(context.Background(), rdb, qs.All())
		testenv.DeleteKeys(rdb, prefix+":*")
	})
	clock := &fakeClock{}
	clock.Set(time.Now())
	sch, err := New(Config{Redis: rdb, KeyPrefix: prefix, Clock: clock, ResumeAfter: 10 * time.Second,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return &dutyEnv{rdb: rdb, sch: sch, store: sch.store, clock: clock, queue: qs.Default}
}

// twoRoots is a graph a, b -> c.
func twoRoots(t *testing.T, name string) *graph.Graph {
	t.Helper()
	b := graph.New(name)
	a := b.Task("a", "noop", nil)
	bb := b.Task("b", "noop", nil)
	b.Task("c", "noop", nil, a, bb)
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return withDefaults(g, DefaultDefaults)
}

// pending returns the asynq task IDs waiting in q.
func pending(t *testing.T, rdb redis.UniversalClient, q string) []string {
	t.Helper()
	ids, err := rdb.LRange(context.Background(), taskq.QueueKeyPrefix(q)+"pending", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	return ids
}

// TestSweepResumesOldSubmissions: a graph whose submitter died after the
// claim stays submitting until it is older than ResumeAfter by the
// sweeper's clock; then one sweep materializes it and enqueues its roots,
// and a second sweep does nothing more.
func TestSweepResumesOldSubmissions(t *testing.T) {
	e := newDutyEnv(t)
	ctx := context.Background()
	g := twoRoots(t, "resume")
	if ok, err := e.store.Claim(ctx, g, e.queue, time.Hour, state.Dispatch{}); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	meta, err := e.store.Meta(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Set(meta.Created.Add(9 * time.Second))
	if err := e.sch.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.sch.Status(ctx, g.ID); st.State != GraphSubmitting || len(pending(t, e.rdb, e.queue)) != 0 {
		t.Fatalf("young submission touched: %+v, pending %v", st, pending(t, e.rdb, e.queue))
	}
	e.clock.Add(2 * time.Second) // 11 s old
	for range 2 {
		if err := e.sch.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
	}
	st, err := e.sch.Status(ctx, g.ID)
	if err != nil || st.State != GraphRunning {
		t.Fatalf("status %+v %v: want running", st, err)
	}
	want := []string{taskq.TaskID(g.ID, "a", 0), taskq.TaskID(g.ID, "b", 0)}
	if got := pending(t, e.rdb, e.queue); !slices.Equal(got, want) {
		t.Fatalf("pending %v, want %v", got, want)
	}
	tasks, _ := e.sch.Tasks(ctx, g.ID)
	if tasks["a"] != TaskQueued || tasks["b"] != TaskQueued || tasks["c"] != TaskWaiting {
		t.Fatalf("tasks %v", tasks)
	}
	if n := testutil.ToFloat64(e.sch.m.resumed); n != 1 {
		t.Fatalf("resumed counter %v, want 1", n)
	}
}

// TestSweepRedispatchesDeadWorkersTasks: of two running tasks, the one whose
// worker's advertisement is gone is re-dispatched (queued again, attempt 1,
// a new asynq task), the live worker's is left alone; a second sweep does
// not re-dispatch it twice; the lost dispatch is then skipped, the new one
// runs.
func TestSweepRedispatchesDeadWorkersTasks(t *testing.T) {
	e := newDutyEnv(t)
	ctx := context.Background()
	g := twoRoots(t, "redispatch")
	if _, err := e.store.Submit(ctx, g, e.queue, time.Hour, state.Dispatch{}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Advertise(ctx, &state.WorkerInfo{ID: "live"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	rec := NewTaskRecorder(e.rdb, e.sch.cfg.KeyPrefix, 0)
	pa, pb := taskPayload(t, e, g.ID, "a"), taskPayload(t, e, g.ID, "b")
	for _, s := range []struct {
		p      *taskq.Payload
		worker string
	}{{pa, "dead"}, {pb, "live"}} {
		if act, _, err := rec.Start(ctx, s.p, 0, s.worker); err != nil || act != ActionRun {
			t.Fatalf("start %s: %q %v", s.p.Key, act, err)
		}
	}
	for range 2 {
		if err := e.sch.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
	}
	tasks, _ := e.sch.Tasks(ctx, g.ID)
	if tasks["a"] != TaskQueued || tasks["b"] != TaskRunning {
		t.Fatalf("tasks %v: want a queued again, b still running", tasks)
	}
	att, _ := e.rdb.HGetAll(ctx, e.store.Prefix()+":{"+e.store.Prefix()+"}:graph:"+g.ID+":attempt").Result()
	if len(att) != 1 || att["a"] != "1" {
		t.Fatalf("attempts %v, want a at 1", att)
	}
	if got := pending(t, e.rdb, e.queue); !slices.Contains(got, taskq.TaskID(g.ID, "a", 1)) {
		t.Fatalf("pending %v: the new dispatch of a is missing", got)
	}
	if n := testutil.ToFloat64(e.sch.m.redispatched); n != 1 {
		t.Fatalf("redispatched counter %v, want 1", n)
	}
	if act, _, _ := rec.Start(ctx, pa, 0, "dead"); act != ActionSkip {
		t.Fatalf("lost dispatch: %q, want skip", act)
	}
	if act, _, _ := rec.Start(ctx, pa, 1, "live"); act != ActionRun {
		t.Fatalf("new dispatch: %q, want run", act)
	}
}

// TestRedispatchGuards: Redispatch refuses a task that is not running on
// the given worker, and one of a graph that stopped.
func TestRedispatchGuards(t *testing.T) {
	e := newDutyEnv(t)
	ctx := context.Background()
	g := twoRoots(t, "guards")
	if _, err := e.store.Submit(ctx, g, e.queue, time.Hour, state.Dispatch{}); err != nil {
		t.Fatal(err)
	}
	rec := NewTaskRecorder(e.rdb, e.sch.cfg.KeyPrefix, 0)
	if act, _, err := rec.Start(ctx, taskPayload(t, e, g.ID, "a"), 0, "w1"); err != nil || act != ActionRun {
		t.Fatalf("start: %q %v", act, err)
	}
	for _, tc := range []struct{ key, worker string }{{"a", "w2"}, {"b", "w1"}, {"c", "w1"}} {
		if ok, err := e.store.Redispatch(ctx, g.ID, tc.key, tc.worker); err != nil || ok {
			t.Fatalf("redispatch %s of %s: %v %v, want refused", tc.key, tc.worker, ok, err)
		}
	}
	if _, err := e.sch.Cancel(ctx, g.ID); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.store.Redispatch(ctx, g.ID, "a", "w1"); err != nil || ok {
		t.Fatalf("redispatch after cancel: %v %v, want refused", ok, err)
	}
}

func taskPayload(t *testing.T, e *dutyEnv, id, key string) *taskq.Payload {
	t.Helper()
	raw, err := e.rdb.HGet(context.Background(), e.store.Prefix()+":{"+e.store.Prefix()+"}:graph:"+id+":msg", key).Bytes()
	if err != nil {
		t.Fatal(err)
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

// TestElector: of two electors on one lease, exactly one leads and runs its
// duty; when it shuts down it releases the lease, and the other takes over
// at its next round and runs its duty in turn.
func TestElector(t *testing.T) {
	rdb := testenv.Redis(t)
	key := testenv.Prefix(t) + ":leader"
	t.Cleanup(func() { rdb.Del(context.Background(), key) })
	var running [2]atomic.Int32
	var leading [2]atomic.Bool
	mk := func(i int, id string) *elector {
		return &elector{
			// Renewed every second, valid 3 s: a slow machine does not
			// lose it between two rounds.
			lease: lease.New(rdb, key, id, 3*time.Second),
			ttl:   3 * time.Second,
			duties: []func(context.Context){func(ctx context.Context) {
				running[i].Add(1)
				<-ctx.Done()
				running[i].Add(-1)
			}},
			log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
			onChange: func(l bool) { leading[i].Store(l) },
		}
	}
	ctx0, stop0 := context.WithCancel(context.Background())
	ctx1, stop1 := context.WithCancel(context.Background())
	defer stop1()
	var wg sync.WaitGroup
	wg.Add(2)
	e0, e1 := mk(0, "e0"), mk(1, "e1")
	go func() { defer wg.Done(); e0.run(ctx0) }()
	waitUntil(t, func() bool { return leading[0].Load() && running[0].Load() == 1 })
	go func() { defer wg.Done(); e1.run(ctx1) }()
	time.Sleep(2200 * time.Millisecond) // more than two rounds of e1
	if leading[1].Load() || running[1].Load() != 0 {
		t.Fatal("two leaders")
	}
	stop0()
	waitUntil(t, func() bool { return !leading[0].Load() && running[0].Load() == 0 })
	waitUntil(t, func() bool { return leading[1].Load() && running[1].Load() == 1 })
	if h, _ := rdb.Get(context.Background(), key).Result(); h != "e1" {
		t.Fatalf("lease held by %q, want e1", h)
	}
	stop1()
	wg.Wait()
	if running[1].Load() != 0 || rdb.Exists(context.Background(), key).Val() != 0 {
		t.Fatal("duty still running or lease kept after shutdown")
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPeriodicHandle: the control task of a periodic entry builds the graph
// at the scheduler's clock and submits it; a second delivery of the same
// schedule is a no-op (same graph, same ID); an unknown entry is not retried.
func TestPeriodicHandle(t *testing.T) {
	e := newDutyEnv(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	e.clock.Set(at)
	var built []time.Time
	e.sch.periodic.entries = map[string]Periodic{"hourly": {Name: "hourly", Cron: "@hourly",
		Build: func(_ context.Context, now time.Time) (*graph.Graph, error) {
			built = append(built, now)
			b := graph.New("hourly")
			b.Task("h-"+now.Format("15"), "const", "1")
			return b.Build()
		}}}
	if err := e.store.Advertise(ctx, &state.WorkerInfo{ID: "w", Functions: []string{"const"}}, time.Minute); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := e.sch.periodic.handle(ctx, asynq.NewTask(typePeriodic, []byte("hourly"))); err != nil {
			t.Fatal(err)
		}
	}
	if len(built) != 2 || !built[0].Equal(at) {
		t.Fatalf("built at %v, want twice at %v", built, at)
	}
	ids, err := e.store.Active(ctx)
	if err != nil || len(ids) != 1 {
		t.Fatalf("active graphs %v %v: want exactly one", ids, err)
	}
	if tasks, err := e.sch.Tasks(ctx, ids[0]); err != nil || tasks["h-10"] != TaskQueued {
		t.Fatalf("tasks %v %v: want h-10 queued", tasks, err)
	}
	err = e.sch.periodic.handle(ctx, asynq.NewTask(typePeriodic, []byte("nope")))
	if !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("unknown entry: %v, want SkipRetry", err)
	}
}
