package state

import (
	"context"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/scheduler/graph"
	"github.com/tributary-dev/tributary/scheduler/taskq"
)

// TestStepBatchMixed sends batches that mix starts and completions (one
// step_batch.lua call) on the graph a, b -> c and checks every reply and the
// fan-in: c is enqueued exactly once, by the completion of the last of its
// dependencies, and a stale start of a finished task is skipped.
func TestStepBatchMixed(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	queue := taskq.DefaultQueues(prefix).Default
	ctx := context.Background()
	t.Cleanup(func() {
		_ = asynq.NewInspectorFromRedisClient(rdb).DeleteQueue(queue, true)
		rdb.SRem(context.Background(), taskq.AllQueuesKey, queue)
		testenv.DeleteKeys(rdb, prefix+":*")
	})
	s := New(rdb, prefix)
	b := graph.New("step")
	b.Task("a", "noop", nil)
	b.Task("b", "noop", nil)
	b.Task("c", "noop", nil, "a", "b")
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	g.ID = g.EffectiveID()
	g.ResultTTL = time.Hour
	retries := 0
	for i := range g.Tasks { // the defaults package scheduler fills in
		g.Tasks[i].Timeout = time.Minute
		g.Tasks[i].MaxRetries = &retries
	}
	sub, err := s.Submit(ctx, g, queue, time.Hour, Dispatch{})
	if err != nil || sub.Enqueued != 2 {
		t.Fatalf("submit: %v %+v", err, sub)
	}
	p := func(key string) *taskq.Payload {
		raw, err := rdb.HGet(ctx, s.key(g.ID, "msg"), key).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		m, err := taskq.DecodeMessage(raw)
		if err != nil {
			t.Fatal(err)
		}
		pl, err := taskq.DecodePayload(m.Payload)
		if err != nil {
			t.Fatal(err)
		}
		return pl
	}
	co := s.NewCoalescer()
	start := func(key string) *call { return &call{p: p(key), worker: "w", done: make(chan struct{})} }
	complete := func(key, res string) *call {
		return &call{p: p(key), complete: true, result: []byte(res), done: make(chan struct{})}
	}

	// a starts alone (start_batch.lua).
	if action, _, err := co.Start(ctx, p("a"), 0, "w"); err != nil || action != ActionRun {
		t.Fatalf("start a: %q %v", action, err)
	}
	// b starts while a completes: one step_batch.lua call.
	sb, ca := start("b"), complete("a", "ra")
	co.run([]*call{sb, ca})
	if sb.err != nil || sb.action != ActionRun {
		t.Fatalf("start b: %q %v", sb.action, sb.err)
	}
	if ca.err != nil || ca.comp != (Completion{Counted: true}) {
		t.Fatalf("complete a: %+v %v", ca.comp, ca.err)
	}
	// b completes, making c ready, while a stale dispatch of a starts, and
	// a's completion is delivered again.
	cb, sa, ca2 := complete("b", "rb"), start("a"), complete("a", "ra")
	co.run([]*call{cb, sa, ca2})
	if sa.err != nil || sa.action != ActionSkip {
		t.Fatalf("stale start of a: %q %v", sa.action, sa.err)
	}
	if cb.err != nil || cb.comp != (Completion{Counted: true, Ready: 1}) {
		t.Fatalf("complete b: %+v %v", cb.comp, cb.err)
	}
	if ca2.err != nil || ca2.comp != (Completion{}) {
		t.Fatalf("duplicate completion of a: %+v %v", ca2.comp, ca2.err)
	}
	// c starts with both results and completes while nothing else is in
	// the batch (complete_batch.lua): the graph is done.
	if action, deps, err := co.Start(ctx, p("c"), 0, "w"); err != nil || action != ActionRun ||
		len(deps) != 2 || string(deps[0]) != "ra" || string(deps[1]) != "rb" {
		t.Fatalf("start c: %q %q %v", action, deps, err)
	}
	if c, err := co.Complete(ctx, p("c"), []byte("rc"), false); err != nil || c != (Completion{Counted: true, GraphDone: true}) {
		t.Fatalf("complete c: %+v %v", c, err)
	}
	// c was enqueued exactly once: the two roots and c went through asynq's
	// pending list (nothing popped it), no more.
	if n, err := rdb.LLen(ctx, taskq.QueueKeyPrefix(queue)+"pending").Result(); err != nil || n != 3 {
		t.Fatalf("pending tasks: %d %v, want 3 (a, b, c once)", n, err)
	}
	st, err := s.Meta(ctx, g.ID)
	if err != nil || st.State != GraphDone || st.Done != 3 {
		t.Fatalf("graph: %+v %v", st, err)
	}
}
