package workers_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/scheduler"
	"github.com/tributary-dev/tributary/scheduler/graph"
	"github.com/tributary-dev/tributary/scheduler/taskq"
	"github.com/tributary-dev/tributary/workers"
	"github.com/tributary-dev/tributary/workers/builtin"
)

// TestParallelismBoundsFunctions: a worker holding 8 tasks runs at most
// Parallelism (2) functions at once, and does run 2.
func TestParallelismBoundsFunctions(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() {
		taskq.DeleteQueues(context.Background(), rdb, taskq.DefaultQueues(prefix).All())
		testenv.DeleteKeys(rdb, prefix+":*")
	})
	var running, peak atomic.Int64
	probe := func(ctx context.Context, _ workers.Call) ([]byte, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		select {
		case <-time.After(30 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return nil, nil
	}
	reg, err := workers.NewRegistry(builtin.Register, func(r *workers.Registry) error { return r.Register("probe", probe) })
	if err != nil {
		t.Fatal(err)
	}
	w, err := workers.New(workers.Config{Redis: rdb, KeyPrefix: prefix, Concurrency: 8, Processors: 2, Parallelism: 2,
		Heartbeat: 100 * time.Millisecond, Log: quiet()}, reg)
	if err != nil {
		t.Fatal(err)
	}
	sch, err := scheduler.New(scheduler.Config{Redis: rdb, KeyPrefix: prefix, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	run(t, sch, w)
	b := graph.New("parallelism")
	b.Generate("p", "probe", 24, nil)
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sub, err := sch.Submit(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sch.Wait(ctx, sub.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != scheduler.GraphDone || st.Done != 24 {
		t.Fatalf("graph %s, %d of 24 done", st.State, st.Done)
	}
	if p := peak.Load(); p != 2 {
		t.Fatalf("at most %d functions ran at once, want exactly Parallelism = 2 (of 8 tasks held)", p)
	}
}
