package state_test

import (
	"context"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/scheduler/graph"
	"github.com/tributary-dev/tributary/scheduler/internal/state"
	"github.com/tributary-dev/tributary/scheduler/taskq"
)

// TestInteractiveAtHead: interactive graphs share the default queue but
// their tasks, roots and those made ready by the fan-in alike, are
// dequeued before every default task already queued; default tasks keep
// their order (asynq pops the pending list from its right end).
func TestInteractiveAtHead(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	queues := taskq.DefaultQueues(prefix)
	queue := queues.For(graph.Interactive)
	if queue != queues.Default {
		t.Fatalf("interactive queue %q, want the default queue %q", queue, queues.Default)
	}
	t.Cleanup(func() { cleanup(rdb, prefix, queue) })
	ctx := context.Background()
	store := state.New(rdb, prefix)
	submit := func(g *graph.Graph) *state.Submission {
		t.Helper()
		sub, err := store.Submit(ctx, filled(g, 0), queues.For(g.Priority), time.Hour, state.Dispatch{})
		if err != nil {
			t.Fatal(err)
		}
		return sub
	}
	bd := graph.New("bulk")
	bd.Generate("d", "noop", 3, nil)
	gd, _ := bd.Build()
	def := submit(gd)
	bi := graph.New("interactive").WithPriority(graph.Interactive)
	i1 := bi.Task("i1", "noop", nil)
	bi.Task("i2", "noop", nil, i1)
	gi, _ := bi.Build()
	inter := submit(gi)

	pending := taskq.QueueKeyPrefix(queue) + "pending"
	pop := func() string {
		t.Helper()
		id, err := rdb.RPop(ctx, pending).Result()
		if err != nil {
			t.Fatalf("pop: %v", err)
		}
		return id
	}
	if got, want := pop(), taskq.TaskID(inter.ID, i1, 0); got != want {
		t.Fatalf("first task dequeued %q, want the interactive root %q", got, want)
	}
	// i1 runs and completes: its dependent i2 is enqueued at the head too.
	co := store.NewCoalescer()
	p := payload(t, rdb, prefix, inter.ID, i1)
	if action, _, err := co.Start(ctx, p, 0, "w"); err != nil || action != state.ActionRun {
		t.Fatalf("start %s: %q %v", i1, action, err)
	}
	if c, err := co.Complete(ctx, p, []byte("x"), false); err != nil || c.Ready != 1 {
		t.Fatalf("complete %s: %+v %v", i1, c, err)
	}
	want := []string{taskq.TaskID(inter.ID, "i2", 0)}
	for _, k := range gd.Tasks {
		want = append(want, taskq.TaskID(def.ID, k.Key, 0))
	}
	for i, w := range want {
		if got := pop(); got != w {
			t.Fatalf("task %d dequeued %q, want %q", i+2, got, w)
		}
	}
}
