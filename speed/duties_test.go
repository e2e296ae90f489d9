package speed

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tributary-dev/tributary/ingest/topology"
	"github.com/tributary-dev/tributary/internal/lease"
	"github.com/tributary-dev/tributary/internal/membership"
	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/speed/keyspace"
	"github.com/tributary-dev/tributary/speed/metrics"
)

// The worker's duties, each driven one step at a time against the real Redis
// (and RabbitMQ for the lag). The subprocess tests (process_test.go) prove the
// whole under SIGKILL.

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func TestHeartbeatAndAssignment(t *testing.T) {
	ctx := context.Background()
	rdb := testenv.Redis(t)
	keys := keyspace.New(testenv.Prefix(t))
	t.Cleanup(func() { testenv.DeleteKeys(rdb, keys.Base()+"*") })
	beat := func(id string) *heartbeat {
		ms, err := membership.New(rdb, keys.Members(), id, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return &heartbeat{members: ms, log: quiet()}
	}
	a, b := beat("a"), beat("b")
	m := metrics.New(nil)
	as := &assignment{self: "a", partitions: 8, m: m, log: quiet()}

	if ms, ok := a.step(ctx); !ok || !slices.Equal(ms, []string{"a"}) {
		t.Fatalf("a alone: %v %v", ms, ok)
	}
	if got := as.step([]string{"a"}); !slices.Equal(got, []int{0, 1, 2, 3, 4, 5, 6, 7}) {
		t.Fatalf("a alone owns %v, want every partition", got)
	}
	ms, ok := b.step(ctx)
	if !ok || !slices.Equal(ms, []string{"a", "b"}) {
		t.Fatalf("after b's heartbeat: %v %v", ms, ok)
	}
	want := as.step(ms)
	if len(want) != 4 {
		t.Fatalf("a owns %v of 8 partitions with 2 members, want 4", want)
	}
	for _, p := range want {
		if membership.Assign(ms, 8)[p] != "a" {
			t.Fatalf("a wants %d, which Assign gives to another", p)
		}
	}
	as.step(ms) // unchanged: no rebalance
	if n := testutil.ToFloat64(m.Rebalances); n != 2 {
		t.Fatalf("rebalances %v, want 2", n)
	}
	if err := b.members.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if ms, _ := a.step(ctx); !slices.Equal(ms, []string{"a"}) {
		t.Fatalf("after b left: %v", ms)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, ok := a.step(cctx); ok {
		t.Fatal("a heartbeat with a cancelled context succeeded")
	}
}

// acquireAll runs the acquisition duty for self over want, recording the
// partitions it starts instead of running them.
func acquireAll(t *testing.T, keys keyspace.Keys, self string, owned runs, want []int) []int {
	t.Helper()
	var started []int
	a := &acquisition{rdb: testenv.Redis(t), keys: keys, self: self, ttl: time.Minute, log: quiet(),
		start: func(_ context.Context, r *run) { started = append(started, r.part) }}
	a.step(context.Background(), owned, want)
	slices.Sort(started)
	return started
}

func TestAcquisition(t *testing.T) {
	ctx := context.Background()
	rdb := testenv.Redis(t)
	keys := keyspace.New(testenv.Prefix(t))
	t.Cleanup(func() { testenv.DeleteKeys(rdb, keys.Base()+"*") })
	if _, err := lease.Acquire(ctx, rdb, keys.Lease(1), keys.Fence(1), "other", time.Minute); err != nil {
		t.Fatal(err)
	}
	owned := runs{2: newRun(2, lease.Grant{})}
	if started := acquireAll(t, keys, "a", owned, []int{0, 1, 2}); !slices.Equal(started, []int{0}) {
		t.Fatalf("started %v, want [0]: 1 is held by another, 2 is owned already", started)
	}
	r := owned[0]
	if v, _ := lease.Holder(ctx, rdb, keys.Lease(0)); r == nil || v != r.grant.Value() || r.grant.Token != 1 {
		t.Fatalf("partition 0: run %+v, lease holds %q", r, v)
	}
	if _, ok := owned[1]; ok {
		t.Fatal("partition 1 owned while another worker holds its lease")
	}
}

func TestRenewalDropsLostLeases(t *testing.T) {
	ctx := context.Background()
	rdb := testenv.Redis(t)
	keys := keyspace.New(testenv.Prefix(t))
	t.Cleanup(func() { testenv.DeleteKeys(rdb, keys.Base()+"*") })
	owned := runs{}
	acquireAll(t, keys, "a", owned, []int{0, 1, 2})
	// Partitions 1 and 2 are taken over (a's leases expired while it paused);
	// 2 is being handed over, so it releases its lease itself.
	for _, p := range []int{1, 2} {
		rdb.Del(ctx, keys.Lease(p))
		if _, err := lease.Acquire(ctx, rdb, keys.Lease(p), keys.Fence(p), "b", time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	owned[2].stopping = true
	m := metrics.New(nil)
	rn := &renewal{rdb: rdb, ttl: time.Minute, m: m, log: quiet()}
	rdb.PExpire(ctx, keys.Lease(0), time.Second)
	if !rn.step(ctx, owned) {
		t.Fatal("renewal failed")
	}
	for p, dropped := range map[int]bool{0: false, 1: true, 2: false} {
		if got := closed(owned[p].abort); got != dropped {
			t.Errorf("partition %d dropped=%v, want %v", p, got, dropped)
		}
	}
	if ttl := rdb.PTTL(ctx, keys.Lease(0)).Val(); ttl < 30*time.Second {
		t.Errorf("partition 0's lease TTL %v after renewal, want about a minute", ttl)
	}
	if n := testutil.ToFloat64(m.LeasesLost); n != 1 {
		t.Errorf("leases lost %v, want 1", n)
	}
}

func TestHandover(t *testing.T) {
	owned := runs{0: newRun(0, lease.Grant{}), 1: newRun(1, lease.Grant{}), 2: newRun(2, lease.Grant{})}
	h := &handover{log: quiet()}
	for range 2 { // a second round must not close twice
		h.step(owned, []int{1})
	}
	for p, stops := range map[int]bool{0: true, 1: false, 2: true} {
		if closed(owned[p].stop) != stops || owned[p].stopping != stops {
			t.Errorf("partition %d: stop closed %v, stopping %v; want %v", p, closed(owned[p].stop), owned[p].stopping, stops)
		}
		if closed(owned[p].abort) {
			t.Errorf("partition %d dropped by a hand-over", p)
		}
	}
}

func TestLagMeter(t *testing.T) {
	conn := testenv.AMQP(t)
	streams := topology.Streams{Prefix: testenv.Prefix(t), Partitions: 2}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := streams.Declare(ch); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if ch, err := conn.Channel(); err == nil {
			_ = streams.Delete(ch)
		}
	})
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		dc, err := ch.PublishWithDeferredConfirmWithContext(context.Background(), "", streams.Queue(1), false, false,
			amqp.Publishing{Body: []byte{byte(i)}})
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := dc.WaitContext(context.Background()); !ok || err != nil {
			t.Fatalf("publish not confirmed: %v", err)
		}
	}
	m := metrics.New(nil)
	l := &lagMeter{conn: conn, streams: streams, m: m}
	defer l.close()
	owned := runs{0: newRun(0, lease.Grant{}), 1: newRun(1, lease.Grant{})}
	owned[1].consumed.Store(3)
	deadline := time.Now().Add(10 * time.Second)
	for { // the stream's message count may trail the confirms a little
		l.step(owned)
		if testutil.ToFloat64(m.Lag.WithLabelValues("1")) == 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lag of partition 1 = %v, want 10 - (3 + 1) = 6", testutil.ToFloat64(m.Lag.WithLabelValues("1")))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := testutil.ToFloat64(m.Lag.WithLabelValues("0")); got != 0 {
		t.Fatalf("lag of the empty partition 0 = %v", got)
	}
	l.forget(1)
	if n := testutil.CollectAndCount(m.Lag); n != 1 {
		t.Fatalf("%d lag series after forgetting partition 1, want 1", n)
	}
}
