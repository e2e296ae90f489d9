package workers_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/scheduler"
	"github.com/tributary-dev/tributary/scheduler/graph"
	"github.com/tributary-dev/tributary/scheduler/taskq"
	"github.com/tributary-dev/tributary/workers"
	"github.com/tributary-dev/tributary/workers/builtin"
)

// setupMetrics is setup with the worker's metrics in a registry of the
// test's and the given concurrency (the scheduler sizes chunks on it).
func setupMetrics(t *testing.T, concurrency int) (*scheduler.Scheduler, *workers.Worker, *prometheus.Registry) {
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
	pr := prometheus.NewRegistry()
	w, err := workers.New(workers.Config{Redis: rdb, KeyPrefix: prefix, Concurrency: concurrency, Parallelism: 4,
		Heartbeat: 100 * time.Millisecond, Log: quiet(), Metrics: pr, RetryDelay: func(int) time.Duration { return 10 * time.Millisecond }}, reg)
	if err != nil {
		t.Fatal(err)
	}
	sch, err := scheduler.New(scheduler.Config{Redis: rdb, KeyPrefix: prefix, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	return sch, w, pr
}

func tasksCounter(t *testing.T, pr *prometheus.Registry, fn, outcome string) int {
	t.Helper()
	mfs, err := pr.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "tributary_worker_tasks_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["function"] == fn && labels["outcome"] == outcome {
				return int(m.GetCounter().GetValue())
			}
		}
	}
	return 0
}

// TestChunkMembers: one worker of concurrency 1 (so the 40 roots go in
// chunks of the default size, 32 at most: two of 20) runs a graph whose
// roots include a flaky task (fails twice, then succeeds) and a sum over
// them all: the flaky member is retried in its chunk, by its own policy,
// its siblings run once each, and the result is exact.
func TestChunkMembers(t *testing.T) {
	sch, w, pr := setupMetrics(t, 1)
	run(t, sch, w)
	b := graph.New("chunk-members")
	leaves := b.Generate("leaf", "const", 39, func(i int) any { return strconv.Itoa(i + 1) })
	leaves = append(leaves, b.TaskWith("flaky", "flaky", "2", nil, graph.Retries(3)))
	root := b.Task("root", "sum", nil, leaves...)
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
	if st.State != scheduler.GraphDone || st.Done != int64(len(g.Tasks)) {
		t.Fatalf("status %+v, want done", st)
	}
	if got, err := sch.Result(ctx, root); err != nil || string(got) != "780" { // 1+...+39, and flaky's 0
		t.Fatalf("root = %q %v, want 780", got, err)
	}
	stats, err := sch.Stats(ctx)
	if err != nil || stats["tasks_done"] != int64(len(g.Tasks)) {
		t.Fatalf("stats %v %v: want tasks_done %d (each task once)", stats, err, len(g.Tasks))
	}
	for _, c := range []struct {
		fn, outcome string
		want        int
	}{{"const", "done", 39}, {"flaky", "retried", 2}, {"flaky", "done", 1}, {"sum", "done", 1}, {"const", "retried", 0}} {
		if got := tasksCounter(t, pr, c.fn, c.outcome); got != c.want {
			t.Errorf("tasks %s %s = %d, want %d", c.fn, c.outcome, got, c.want)
		}
	}
}

// TestChunkMemberFails: a member that fails for good fails its graph (with
// its key and error) without being retried past its policy, and the worker
// goes on: a second graph then runs to its exact result.
func TestChunkMemberFails(t *testing.T) {
	sch, w, pr := setupMetrics(t, 1)
	run(t, sch, w)
	b := graph.New("chunk-fail")
	leaves := b.Generate("leaf", "const", 9, func(i int) any { return strconv.Itoa(i) })
	leaves = append(leaves, b.TaskWith("bad", "fail", "boom", nil, graph.Retries(1)))
	b.Task("root", "sum", nil, leaves...)
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
	if st.State != scheduler.GraphFailed || st.ErrorKey != "bad" {
		t.Fatalf("status %+v, want failed by task bad", st)
	}
	if r, f := tasksCounter(t, pr, "fail", "retried"), tasksCounter(t, pr, "fail", "failed"); r != 1 || f != 1 {
		t.Fatalf("fail retried %d times, failed %d: want 1 and 1 (its policy: one retry)", r, f)
	}
	b2 := graph.New("chunk-after")
	l2 := b2.Generate("x", "const", 8, func(i int) any { return strconv.Itoa(i) })
	root := b2.Task("root2", "sum", nil, l2...)
	g2, err := b2.Build()
	if err != nil {
		t.Fatal(err)
	}
	sub2, err := sch.Submit(ctx, g2)
	if err != nil {
		t.Fatal(err)
	}
	if st := wait(t, sch, sub2.ID); st.State != scheduler.GraphDone {
		t.Fatalf("second graph %+v, want done", st)
	}
	if got, err := sch.Result(ctx, root); err != nil || string(got) != "28" {
		t.Fatalf("root2 = %q %v, want 28", got, err)
	}
}

// TestChunkCancel: cancelling a graph interrupts the members of its chunk
// that run (asynq cancels the chunk, found from the members' runner): the
// worker's running tasks drop to none long before their 60 s sleeps, and
// the members waiting for a run slot do not start.
func TestChunkCancel(t *testing.T) {
	sch, w, pr := setupMetrics(t, 1)
	run(t, sch, w)
	b := graph.New("chunk-cancel")
	for i := range 6 {
		b.Task("slow-"+strconv.Itoa(i), "sleepsum", "60s")
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
	running := func() float64 {
		mfs, _ := pr.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "tributary_worker_running_tasks" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		return -1
	}
	waitFor(t, func() bool { return running() == 1 }) // the worker's parallelism (at most its concurrency)
	if ok, err := sch.Cancel(ctx, sub.ID); err != nil || !ok {
		t.Fatalf("cancel: %v %v", ok, err)
	}
	waitFor(t, func() bool { return running() == 0 })
	if st, err := sch.Status(ctx, sub.ID); err != nil || st.State != scheduler.GraphCancelled {
		t.Fatalf("status %+v %v, want cancelled", st, err)
	}
}
