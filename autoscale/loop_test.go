package autoscale

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tributary-dev/tributary/internal/lease"
	"github.com/tributary-dev/tributary/internal/testenv"
)

// pool is an in-memory actuator: it records the resizes it is asked for.
type pool struct {
	mu      sync.Mutex
	n       map[Kind]int
	resizes []string
}

func (p *pool) Current(_ context.Context, k Kind) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n[k], nil
}

func (p *pool) Resize(_ context.Context, k Kind, n int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.resizes = append(p.resizes, fmt.Sprintf("%s %d->%d", k, p.n[k], n))
	p.n[k] = n
	return nil
}

// TestLoopLeaderActs runs two autoscalers on one lease in the real Redis,
// reading a real asynq queue: only the leader resizes, and when it stops the
// other takes over and acts on the same queue.
func TestLoopLeaderActs(t *testing.T) {
	rdb := testenv.Redis(t)
	ctx := context.Background()
	prefix := testenv.Prefix(t)
	queue := prefix + ".batch"
	ins := asynq.NewInspectorFromRedisClient(rdb)
	t.Cleanup(func() { _ = ins.DeleteQueue(queue, true) })
	cl := asynq.NewClientFromRedisClient(rdb)
	for i := range 20 {
		if _, err := cl.Enqueue(asynq.NewTask("t", []byte(fmt.Sprint(i))), asynq.Queue(queue)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := QueueDepth(ins, []string{queue, prefix + ".never-used"}); err != nil || n != 20 {
		t.Fatalf("QueueDepth = %d, %v; want 20", n, err)
	}

	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	pol := Policy{Min: 1, Max: 4, Target: 8, DownBelow: 0.5, DownAfter: 30 * time.Second, Cooldown: 20 * time.Second, MaxStep: 4}
	sig := Signals{Inspector: ins, Queues: []string{queue}}
	key := prefix + ":autoscale:leader"
	var pools [2]*pool
	var loops [2]*Loop
	var leases [2]*lease.Lease
	regs := [2]*prometheus.Registry{prometheus.NewRegistry(), prometheus.NewRegistry()}
	for i := range loops {
		pools[i] = &pool{n: map[Kind]int{Batch: 1}}
		leases[i] = lease.New(rdb, key, fmt.Sprintf("as%d", i), 10*time.Second)
		l, err := New(Config{Leader: leases[i], Signal: sig, Actuator: pools[i], Policies: map[Kind]Policy{Batch: pol}, Now: clock, Reg: regs[i]})
		if err != nil {
			t.Fatal(err)
		}
		loops[i] = l
	}
	t.Cleanup(func() { rdb.Del(context.Background(), key) })

	step := func(i int) bool {
		t.Helper()
		lead, err := loops[i].Step(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return lead
	}
	if !step(0) || step(1) {
		t.Fatal("as0 should lead, as1 follow")
	}
	// 20 tasks at 8 per worker: 3 workers, by the leader only.
	if got := pools[0].resizes; len(got) != 1 || got[0] != "batch 1->3" {
		t.Fatalf("leader resizes %v, want [batch 1->3]", got)
	}
	if len(pools[1].resizes) != 0 {
		t.Fatalf("follower resized %v", pools[1].resizes)
	}
	if v := testutil.ToFloat64(loops[0].met.desired.WithLabelValues("batch")); v != 3 {
		t.Fatalf("desired workers metric %v, want 3", v)
	}
	if v := testutil.ToFloat64(loops[0].met.load.WithLabelValues("batch")); v != 20 {
		t.Fatalf("load metric %v, want 20", v)
	}

	// The queue drains; the leader goes away cleanly; the other takes over
	// with an empty history, so it waits DownAfter before shrinking.
	if _, err := ins.DeleteAllPendingTasks(queue); err != nil {
		t.Fatal(err)
	}
	if err := leases[0].Release(ctx); err != nil {
		t.Fatal(err)
	}
	pools[1].n[Batch] = 3 // the same pool, seen by the new leader
	for s := 0; s <= 30; s += 10 {
		now = now.Add(10 * time.Second)
		if !step(1) {
			t.Fatal("as1 did not take over")
		}
		if s < 30 && len(pools[1].resizes) != 0 {
			t.Fatalf("new leader shrank before watching the load for DownAfter: %v", pools[1].resizes)
		}
	}
	if got := pools[1].resizes; len(got) != 1 || got[0] != "batch 3->2" {
		t.Fatalf("new leader resizes %v, want [batch 3->2]", got)
	}
	if step(0) {
		t.Fatal("as0 took the lease back while as1 holds it")
	}
}
