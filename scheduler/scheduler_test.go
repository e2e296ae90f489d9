package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/pipelinetest"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/scheduler"
	"github.com/tributary-dev/tributary/scheduler/client"
	"github.com/tributary-dev/tributary/scheduler/graph"
	"github.com/tributary-dev/tributary/scheduler/taskq"
	"github.com/tributary-dev/tributary/workers"
	"github.com/tributary-dev/tributary/workers/builtin"
)

// env is a worker and a scheduler (with its HTTP API) under a prefix of
// their own, in this process.
type env struct {
	rdb    redis.UniversalClient
	prefix string
	sch    *scheduler.Scheduler
	cli    *client.Client
	calls  *sync.Map // task key -> *atomic.Int64, counted by the "count" function
}

func testLog(t *testing.T) *slog.Logger {
	if os.Getenv("TRIBUTARY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(&testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// cleanup removes every key under prefix and the prefix's asynq queues.
func cleanup(rdb redis.UniversalClient, prefix string) { pipelinetest.Cleanup(rdb, prefix) }

func newEnv(t *testing.T) *env {
	t.Helper()
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { cleanup(rdb, prefix) })
	e := &env{rdb: rdb, prefix: prefix, calls: &sync.Map{}}
	reg, err := workers.NewRegistry(builtin.Register, func(r *workers.Registry) error {
		// count sums like "sum" and records how many times each key ran.
		return r.Register("count", func(ctx context.Context, c workers.Call) ([]byte, error) {
			n, _ := e.calls.LoadOrStore(c.Key, new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
			var total int64
			for _, d := range append([][]byte{c.Args}, c.Deps...) {
				v, _ := strconv.ParseInt(string(d), 10, 64)
				total += v
			}
			return []byte(strconv.FormatInt(total, 10)), nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w, err := workers.New(workers.Config{Redis: rdb, KeyPrefix: prefix, Concurrency: 8, Processors: 2, Log: testLog(t)}, reg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = w.Run(ctx) }()
	e.sch, err = scheduler.New(scheduler.Config{Redis: rdb, KeyPrefix: prefix, Log: testLog(t),
		Defaults: scheduler.Defaults{MaxRetries: 2}})
	if err != nil {
		t.Fatal(err)
	}
	go func() { defer wg.Done(); _ = e.sch.Run(ctx) }()
	mux := http.NewServeMux()
	e.sch.Register(mux)
	srv := httptest.NewServer(mux)
	e.cli = client.New(srv.URL)
	t.Cleanup(func() { srv.Close(); cancel(); wg.Wait() })
	// The worker advertises itself as it starts: wait for it.
	waitFor(t, 10*time.Second, func() bool {
		fns, err := e.sch.Functions(context.Background())
		return err == nil && fns["sum"] > 0
	})
	return e
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// run submits g and waits for its end. The bound is generous: a 2,000-task
// graph on a 2-core machine shared with other test packages can take minutes.
func (e *env) run(t *testing.T, g *graph.Graph) *scheduler.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := e.cli.Submit(ctx, g)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	st, err := e.cli.Wait(ctx, res.ID, 20*time.Millisecond, nil)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	return st
}

func (e *env) result(t *testing.T, key string) int64 {
	t.Helper()
	b, err := e.cli.Result(context.Background(), key)
	if err != nil {
		t.Fatalf("result of %s: %v", key, err)
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		t.Fatalf("result of %s: %q: %v", key, b, err)
	}
	return n
}

// TestExactResults runs diamond, wide-map, deep-tree and chain graphs and
// checks their results against arithmetic done here.
func TestExactResults(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name  string
		build func(b *graph.Builder) string // returns the key to check
		want  int64
	}{
		{"diamond", func(b *graph.Builder) string {
			a := b.Task("a", "const", "5")
			l := b.Task("l", "sum", "1", a) // 6
			r := b.Task("r", "sum", "2", a) // 7
			return b.Task("d", "sum", nil, l, r, a)
		}, 6 + 7 + 5},
		{"wide map", func(b *graph.Builder) string {
			leaves := b.Generate("leaf", "const", 2000, func(i int) any { return strconv.Itoa(i) })
			mapped := b.MapPartitions("plus1", "sum", "1", leaves)
			return b.TreeReduce("total", "sum", nil, 50, mapped)
		}, 1999*2000/2 + 2000},
		{"deep tree", func(b *graph.Builder) string {
			leaves := b.Generate("leaf", "const", 729, func(i int) any { return strconv.Itoa(i * i) })
			return b.TreeReduce("tree", "sum", nil, 3, leaves) // 6 levels
		}, func() int64 {
			var s int64
			for i := int64(0); i < 729; i++ {
				s += i * i
			}
			return s
		}()},
		{"chain", func(b *graph.Builder) string {
			prev := b.Task("c-0", "const", "0")
			for i := 1; i <= 100; i++ {
				prev = b.Task(fmt.Sprintf("c-%d", i), "sum", strconv.Itoa(i), prev)
			}
			return prev
		}, 100 * 101 / 2},
		{"retried", func(b *graph.Builder) string {
			a := b.Task("a", "const", "40")
			return b.TaskWith("f", "flaky", "2", []string{a}, graph.Retries(3))
		}, 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Keys are namespaced per case: results are shared by key.
			b := graph.New(tt.name)
			root := tt.build(b)
			g, err := b.Build()
			if err != nil {
				t.Fatal(err)
			}
			ns := strings.ReplaceAll(tt.name, " ", "_") + "/"
			for i := range g.Tasks {
				g.Tasks[i].Key = ns + g.Tasks[i].Key
				for j := range g.Tasks[i].Deps {
					g.Tasks[i].Deps[j] = ns + g.Tasks[i].Deps[j]
				}
			}
			st := e.run(t, g)
			if st.State != scheduler.GraphDone || st.Done != int64(len(g.Tasks)) || st.Failed != 0 {
				t.Fatalf("status %+v, want done with %d tasks", st, len(g.Tasks))
			}
			if got := e.result(t, ns+root); got != tt.want {
				t.Fatalf("result %d, want %d", got, tt.want)
			}
		})
	}
}

// TestFailureFailsGraph: a task failing for good fails its graph with its
// error, and none of its dependents runs.
func TestFailureFailsGraph(t *testing.T) {
	e := newEnv(t)
	b := graph.New("failing")
	a := b.Task("a", "const", "1")
	bad := b.TaskWith("bad", "fail", "boom-42", []string{a}, graph.Retries(1))
	c := b.Task("c", "count", nil, bad)
	b.Task("d", "count", nil, c, a)
	g, _ := b.Build()
	st := e.run(t, g)
	if st.State != scheduler.GraphFailed || st.ErrorKey != "bad" || !strings.Contains(st.Error, "boom-42") {
		t.Fatalf("status %+v: want failed by task bad with its error", st)
	}
	tasks, err := e.cli.Tasks(context.Background(), st.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "done", "bad": "failed", "c": "cancelled", "d": "cancelled"}
	for k, v := range want {
		if tasks[k] != v {
			t.Errorf("task %s is %s, want %s", k, tasks[k], v)
		}
	}
	e.calls.Range(func(k, _ any) bool { t.Errorf("dependent %v ran", k); return true })
	if _, err := e.cli.Result(context.Background(), "c"); !errors.Is(err, scheduler.ErrNoResult) {
		t.Errorf("result of c: %v, want ErrNoResult", err)
	}
}

// TestTimeout: a task over its timeout fails its graph with a timeout error.
func TestTimeout(t *testing.T) {
	e := newEnv(t)
	b := graph.New("slow")
	b.TaskWith("slow", "sleepsum", "30s", nil, graph.Timeout(200*time.Millisecond), graph.Retries(0))
	g, _ := b.Build()
	st := e.run(t, g)
	if st.State != scheduler.GraphFailed || !strings.Contains(st.Error, "timed out after 200ms") {
		t.Fatalf("status %+v: want failed by a timeout", st)
	}
}

// TestRefused: cycles, missing dependencies and unknown functions are refused
// at submission with a clear error.
func TestRefused(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name  string
		tasks []graph.Task
		want  string
	}{
		{"cycle", []graph.Task{{Key: "a", Func: "sum", Deps: []string{"c"}}, {Key: "b", Func: "sum", Deps: []string{"a"}}, {Key: "c", Func: "sum", Deps: []string{"b"}}}, "dependency cycle a -> c -> b -> a"},
		{"missing", []graph.Task{{Key: "a", Func: "sum", Deps: []string{"zz"}}}, `depends on missing key "zz"`},
		{"unknown function", []graph.Task{{Key: "a", Func: "no-such-fn"}}, "no live worker knows function(s) no-such-fn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.cli.Submit(context.Background(), &graph.Graph{Tasks: tt.tasks})
			if !errors.Is(err, graph.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("submit: %v, want ErrInvalid with %q", err, tt.want)
			}
		})
	}
}

// TestIdempotentAndMemoized: the same graph submitted twice runs once; a
// graph sharing keys with a finished one skips them, and counts them.
func TestIdempotentAndMemoized(t *testing.T) {
	e := newEnv(t)
	build := func(extra bool) *graph.Graph {
		b := graph.New("memo")
		leaves := b.Generate("leaf", "count", 20, func(i int) any { return strconv.Itoa(i) })
		root := b.TreeReduce("sum", "count", nil, 4, leaves)
		if extra {
			b.Task("root2", "count", "1000", root)
		}
		g, _ := b.Build()
		return g
	}
	ctx := context.Background()
	g1 := build(false)
	r1, err := e.cli.Submit(ctx, g1)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := e.cli.Submit(ctx, build(false)) // same content, same ID
	if err != nil {
		t.Fatal(err)
	}
	if r1.ID != r2.ID || !r1.Created || r2.Created {
		t.Fatalf("two submissions: %+v then %+v, want the same ID, created once", r1, r2)
	}
	st, err := e.cli.Wait(ctx, r1.ID, 20*time.Millisecond, nil)
	if err != nil || st.State != scheduler.GraphDone {
		t.Fatalf("wait: %+v %v", st, err)
	}
	if got := e.result(t, "sum-L3-0"); got != 190 {
		t.Fatalf("sum = %d, want 190", got)
	}
	ran := 0
	e.calls.Range(func(k, v any) bool {
		ran++
		if n := v.(*atomic.Int64).Load(); n != 1 {
			t.Errorf("task %v ran %d times", k, n)
		}
		return true
	})
	if ran != len(g1.Tasks) {
		t.Fatalf("%d tasks ran, want %d", ran, len(g1.Tasks))
	}
	// A second graph with one new task on top: everything else is memoized.
	st = e.run(t, build(true))
	if st.State != scheduler.GraphDone || st.Memoized != int64(len(g1.Tasks)) || st.Done != int64(len(g1.Tasks)+1) {
		t.Fatalf("status %+v: want %d memoized and 1 run", st, len(g1.Tasks))
	}
	if got := e.result(t, "root2"); got != 1190 {
		t.Fatalf("root2 = %d, want 1190", got)
	}
	if v, _ := e.calls.Load("leaf-0"); v.(*atomic.Int64).Load() != 1 {
		t.Errorf("memoized leaf-0 ran again")
	}
	stats, err := e.sch.Stats(ctx)
	if err != nil || stats["tasks_memoized"] != int64(len(g1.Tasks)) {
		t.Errorf("stats %v %v: want tasks_memoized %d", stats, err, len(g1.Tasks))
	}
}

// TestCancel: cancelling a graph stops its pending tasks and interrupts the
// running ones.
func TestCancel(t *testing.T) {
	e := newEnv(t)
	b := graph.New("cancel")
	slow := b.Generate("slow", "sleepsum", 4, func(int) any { return "20s" })
	b.Task("after", "count", nil, slow...)
	g, _ := b.Build()
	ctx := context.Background()
	res, err := e.cli.Submit(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool {
		st, err := e.cli.Status(ctx, res.ID)
		return err == nil && st.Running == 4
	})
	start := time.Now()
	if ok, err := e.cli.Cancel(ctx, res.ID); err != nil || !ok {
		t.Fatalf("cancel: %v %v", ok, err)
	}
	st, err := e.cli.Status(ctx, res.ID)
	if err != nil || st.State != scheduler.GraphCancelled || st.Cancelled != 1 {
		t.Fatalf("status %+v %v: want cancelled, 1 task cancelled", st, err)
	}
	// The running tasks are interrupted: the worker's slots free up long before 20 s.
	waitFor(t, 15*time.Second, func() bool {
		info, err := asynq.NewInspectorFromRedisClient(e.rdb).GetQueueInfo(taskq.DefaultQueues(e.prefix).Default)
		return err == nil && info.Active == 0
	})
	if time.Since(start) > 15*time.Second {
		t.Fatal("running tasks not interrupted")
	}
	e.calls.Range(func(k, _ any) bool { t.Errorf("task %v ran after cancel", k); return true })
}

// TestPeriodic: a periodic graph is built and submitted through asynq's
// periodic-task scheduler run by the leader, and completes.
func TestPeriodic(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { cleanup(rdb, prefix) })
	reg, _ := workers.NewRegistry(builtin.Register)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	w, _ := workers.New(workers.Config{Redis: rdb, KeyPrefix: prefix, Log: testLog(t)}, reg)
	wg.Add(2)
	go func() { defer wg.Done(); _ = w.Run(ctx) }()
	var built atomic.Int64
	sch, err := scheduler.New(scheduler.Config{Redis: rdb, KeyPrefix: prefix, Log: testLog(t), Periodic: []scheduler.Periodic{{
		Name: "every-second", Cron: "@every 1s",
		Build: func(_ context.Context, at time.Time) (*graph.Graph, error) {
			built.Add(1)
			b := graph.New("periodic")
			b.Task("p-"+at.Truncate(time.Second).Format("150405"), "const", "7")
			return b.Build()
		},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	go func() { defer wg.Done(); _ = sch.Run(ctx) }()
	waitFor(t, 20*time.Second, func() bool {
		stats, _ := sch.Stats(ctx)
		return stats["graphs_done"] >= 2
	})
}
