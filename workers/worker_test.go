package workers_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/scheduler"
	"github.com/tributary-dev/tributary/scheduler/graph"
	"github.com/tributary-dev/tributary/scheduler/taskq"
	"github.com/tributary-dev/tributary/workers"
	"github.com/tributary-dev/tributary/workers/builtin"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// setup returns a scheduler (not running: Submit and the reads need no
// leader) and a worker on a prefix of their own; run starts the worker and
// returns a func that stops it and waits for Run to return.
func setup(t *testing.T) (redis.UniversalClient, *scheduler.Scheduler, *workers.Worker) {
	t.Helper()
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() {
		taskq.DeleteQueues(context.Background(), rdb, taskq.DefaultQueues(prefix).All())
		testenv.DeleteKeys(rdb, prefix+":*")
	})
	reg, err := workers.NewRegistry(builtin.Register)
	if err != nil {
		t.Fatal(err)
	}
	w, err := workers.New(workers.Config{Redis: rdb, KeyPrefix: prefix, Concurrency: 4, Heartbeat: 100 * time.Millisecond, Log: quiet()}, reg)
	if err != nil {
		t.Fatal(err)
	}
	sch, err := scheduler.New(scheduler.Config{Redis: rdb, KeyPrefix: prefix, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	return rdb, sch, w
}

func run(t *testing.T, sch *scheduler.Scheduler, w *workers.Worker) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := w.Run(ctx); err != nil {
			t.Errorf("worker: %v", err)
		}
	}()
	stop = func() { cancel(); wg.Wait() }
	t.Cleanup(stop)
	waitFor(t, func() bool {
		fns, err := sch.Functions(context.Background())
		return err == nil && fns["sum"] == 1
	})
	return stop
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 20s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func wait(t *testing.T, sch *scheduler.Scheduler, id string) *scheduler.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := sch.Wait(ctx, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestWorkerRunsGraph: one worker runs a small graph (a tree of sums over
// ten leaves, and a chain) to the exact results, every task once.
func TestWorkerRunsGraph(t *testing.T) {
	_, sch, w := setup(t)
	run(t, sch, w)
	b := graph.New("small")
	leaves := b.Generate("leaf", "const", 10, func(i int) any { return strconv.Itoa(i + 1) })
	root := b.TreeReduce("tree", "sum", nil, 3, leaves)
	prev := b.Task("chain-0", "sum", "1", root)
	for i := 1; i < 5; i++ {
		prev = b.Task("chain-"+strconv.Itoa(i), "sum", "1", prev)
	}
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sub, err := sch.Submit(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	st := wait(t, sch, sub.ID)
	if st.State != scheduler.GraphDone || st.Done != int64(len(g.Tasks)) || st.Memoized != 0 {
		t.Fatalf("status %+v, want done with %d tasks run", st, len(g.Tasks))
	}
	for key, want := range map[string]string{root: "55", prev: "60"} {
		if got, err := sch.Result(ctx, key); err != nil || string(got) != want {
			t.Fatalf("result of %s: %q %v, want %s", key, got, err, want)
		}
	}
	stats, err := sch.Stats(ctx)
	if err != nil || stats["tasks_done"] != int64(len(g.Tasks)) {
		t.Fatalf("stats %v %v: want tasks_done %d (each task once)", stats, err, len(g.Tasks))
	}
}

// TestWorkerGracefulShutdown: a worker stopped while a task runs lets it
// finish and record its result, then withdraws its advertisement at once
// (the scheduler need not wait for its TTL).
func TestWorkerGracefulShutdown(t *testing.T) {
	_, sch, w := setup(t)
	stop := run(t, sch, w)
	b := graph.New("graceful")
	b.Task("a", "const", "20")
	b.Task("slow", "sleepsum", "700ms", "a")
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sub, err := sch.Submit(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		tasks, err := sch.Tasks(ctx, sub.ID)
		return err == nil && tasks["slow"] == scheduler.TaskRunning
	})
	stop()
	st, err := sch.Status(ctx, sub.ID)
	if err != nil || st.State != scheduler.GraphDone {
		t.Fatalf("status after the worker stopped: %+v %v: want done (the running task finished)", st, err)
	}
	if got, err := sch.Result(ctx, "slow"); err != nil || string(got) != "20" {
		t.Fatalf("result %q %v, want 20", got, err)
	}
	if fns, err := sch.Functions(ctx); err != nil || len(fns) != 0 {
		t.Fatalf("functions after stop: %v %v: want none (withdrawn)", fns, err)
	}
}
