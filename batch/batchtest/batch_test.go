package batchtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/batch/batchkeys"
	"github.com/tributary-dev/tributary/batch/recompute"
	"github.com/tributary-dev/tributary/batch/reconcile"
	"github.com/tributary-dev/tributary/batch/view"
	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/speed"
	"github.com/tributary-dev/tributary/speed/keyspace"
	"github.com/tributary-dev/tributary/speed/store"
)

const rows = 300_000

// TestBatchLayer runs the whole batch layer on the first 300,000 flights,
// with the speed layer alongside, in phases that share the setup:
// exact views, reconciliation, late events, incremental == full, and a
// publication that dies before its switch.
func TestBatchLayer(t *testing.T) {
	e := newEnv(t)
	e.startScheduler()
	e.startArchiver(20_000)
	stopSpeed := e.startSpeed()
	defer stopSpeed()

	e.feed(0, rows, "replay")
	st := e.waitArchived(rows)
	e.waitSpeed()

	x := expectation{}
	plan, v1 := exactViews(t, e, st.Boundary(), x)
	reconciled(t, e, v1)
	late := lateEvents(v1.Boundary, 40)
	lateAndMore(t, e, late, x)
	v2 := incremental(t, e, plan, late, x)
	v3 := fullEqualsIncremental(t, e, v2)
	crashedPublication(t, e, v3, late)
}

// exactViews is phase 1: the exact views of the first 300,000 flights,
// whose boundary is the archive's.
func exactViews(t *testing.T, e *env, boundary int64, x expectation) (*recompute.Plan, *view.View) {
	plan, status, err := e.recompute()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("v%d: %d segments, %d partials, %d merges, boundary %s", plan.Version, plan.Segments, plan.Partials, plan.Merges, time.Unix(plan.Boundary, 0).UTC())
	if plan.Boundary != boundary || plan.Boundary == 0 {
		t.Fatalf("boundary %d, want the archive's %d", plan.Boundary, boundary)
	}
	expectRows(t, e.data, 0, rows, x)
	v1, err := view.Load(context.Background(), e.rdb, e.prefix)
	if err != nil {
		t.Fatal(err)
	}
	if v1.Version != plan.Version || status.Memoized != 0 {
		t.Fatalf("current version %d (want %d), memoized %d (want 0)", v1.Version, plan.Version, status.Memoized)
	}
	checkView(t, v1, x)
	return plan, v1
}

// reconciled checks the reconciliation of v1: the speed layer saw the same
// events, so counts agree, and the speed buckets that the batch view now
// covers expire after the grace period.
func reconciled(t *testing.T, e *env, v1 *view.View) {
	ctx := context.Background()
	rep, err := reconcile.Last(ctx, e.rdb, e.prefix)
	if err != nil || rep == nil || rep.Version != v1.Version {
		t.Fatalf("reconciliation report %+v, %v", rep, err)
	}
	t.Logf("reconciliation: %+v", *rep)
	if rep.CountMismatches != 0 || rep.StatsMismatches != 0 || rep.Buckets == 0 {
		t.Fatalf("speed and batch disagree: %+v", *rep)
	}
	// Every view was compared from the version's first hour (which the
	// publication passed on): the report covers every bucket of the view
	// once.
	var buckets int64
	for _, name := range v1.Views() {
		gs, err := v1.Groups(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range gs {
			hs, err := v1.Hours(name, g)
			if err != nil {
				t.Fatal(err)
			}
			buckets += int64(len(hs))
		}
	}
	if rep.From != v1.FirstHour() || rep.To != v1.Boundary || rep.Buckets != buckets {
		t.Fatalf("report of hours [%d, %d) with %d buckets, want [%d, %d) with %d", rep.From, rep.To, rep.Buckets,
			v1.FirstHour(), v1.Boundary, buckets)
	}
	for q, rel := range rep.QuantileRelErr {
		if rel > flight.SketchRelativeAccuracy+1e-9 {
			t.Errorf("%s relative error %.4f beyond the sketch's bound", q, rel)
		}
	}
	// The speed layer gives the keys of the covered hours the grace once it
	// sees the report (its coverage duty, every 200 ms here), and leaves
	// the hours from the boundary on alone. The grace is 10 minutes
	// (helpers_test.go): long enough that a slow, loaded machine still
	// sees the TTL running, short enough to tell it from a key that never
	// expires.
	keys := keyspace.New(e.prefix)
	p := keyspace.GroupPartition("ATL", e.streams.Partitions)
	sb := keys.Hour(p, "airport_hour", v1.Boundary-24*3600)
	// The first of ATL's hashes from the boundary on (the speed layer holds
	// every event, the batch view the hours before the boundary only).
	after := ""
	for h := v1.Boundary; h < v1.Boundary+48*3600 && after == ""; h += 3600 {
		if k := keys.Hour(p, "airport_hour", h); e.rdb.Exists(ctx, k).Val() == 1 {
			after = k
		}
	}
	if after == "" {
		t.Fatal("no speed hash of ATL in the 48 hours from the boundary: the check below would check nothing")
	}
	var ttl time.Duration
	for range 100 {
		if ttl = e.rdb.PTTL(ctx, sb).Val(); ttl > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if ttl <= 0 || ttl > 10*time.Minute {
		t.Errorf("speed bucket %s has TTL %v 10 s after the report, want the grace period (at most 10m)", sb, ttl)
	}
	if ttl := e.rdb.PTTL(ctx, after).Val(); ttl != -1 {
		t.Errorf("speed bucket %s, from the boundary on, has TTL %v, want none", after, ttl)
	}
}

// lateAndMore is phase 2: late events, 2 days behind, and duplicates of
// them; then 1% more data. The speed layer refuses the late ones, the
// batch view will have them.
func lateAndMore(t *testing.T, e *env, late []flight.Event, x expectation) {
	publishJSON(t, e, e.conn, e.streams, late)
	publishJSON(t, e, e.conn, e.streams, late[:10]) // same (producer, seq): duplicates
	for _, ev := range late {
		x.add(ev.Origin, ev.Destination, ev.Time, ev.Delay)
	}
	e.feed(rows, rows+rows/100, "replay")
	expectRows(t, e.data, rows, rows+rows/100, x)
	e.waitArchived(rows + rows/100 + int64(len(late)))
	e.waitSpeed()
	var refused int64
	for p := range e.streams.Partitions {
		ps, err := store.NewReader(e.rdb, e.prefix, e.streams.Partitions).Partition(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		refused += ps.Late
	}
	if refused != int64(len(late)) {
		t.Fatalf("the speed layer refused %d events as late, want %d", refused, len(late))
	}
}

// incremental is phase 3: an incremental recompute scans only the new
// segments, and its view is exact, late events included.
func incremental(t *testing.T, e *env, plan *recompute.Plan, late []flight.Event, x expectation) *view.View {
	plan2, status2, err := e.recompute()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("v%d (incremental): %d segments, %d tasks, %d memoized", plan2.Version, plan2.Segments, status2.Total, status2.Memoized)
	if status2.Memoized < int64(plan.Partials) {
		t.Fatalf("incremental recompute memoized %d tasks, want at least the %d old partials", status2.Memoized, plan.Partials)
	}
	v2, err := view.Load(context.Background(), e.rdb, e.prefix)
	if err != nil {
		t.Fatal(err)
	}
	checkView(t, v2, x)
	for _, ev := range late {
		a, _ := v2.Bucket("airport_hour", ev.Origin, flight.Hour(ev.Time))
		if a.Count == 0 {
			t.Fatalf("late event %s missing from the batch view", ev.ID)
		}
	}
	return v2
}

// fullEqualsIncremental is phase 4: a full recompute (new epoch, partials
// forgotten) equals the incremental one.
func fullEqualsIncremental(t *testing.T, e *env, v2 *view.View) *view.View {
	ctx := context.Background()
	e.rdb.Incr(ctx, batchkeys.New(e.prefix).Epoch())
	for _, k := range testenv.Keys(t, e.rdb, e.prefix+":{"+e.prefix+"}:result:partial:*") {
		e.rdb.Del(ctx, k)
	}
	plan3, status3, err := e.recompute()
	if err != nil {
		t.Fatal(err)
	}
	if status3.Memoized != 0 {
		t.Fatalf("full recompute memoized %d tasks", status3.Memoized)
	}
	v3, err := view.Load(ctx, e.rdb, e.prefix)
	if err != nil {
		t.Fatal(err)
	}
	if v3.Version != plan3.Version {
		t.Fatalf("current %d, want %d", v3.Version, plan3.Version)
	}
	sameView(t, v2, v3)
	return v3
}

// crashedPublication is phase 5: a publication that dies right before its
// switch leaves v3 current and readable; the next one succeeds, and the
// retired version's nodes that it does not use expire after the grace
// period.
func crashedPublication(t *testing.T, e *env, v3 *view.View, late []flight.Event) {
	ctx := context.Background()
	e.feed(rows+rows/100, rows+rows/50, "replay")
	e.waitArchived(rows + rows/50 + int64(len(late)))
	e.crash.Store(true)
	_, st4, err := e.recompute()
	if err == nil || st4 == nil || st4.State != "failed" {
		t.Fatalf("the crashing publication did not fail: %v %+v", err, st4)
	}
	cur, err := view.Load(ctx, e.rdb, e.prefix)
	if err != nil {
		t.Fatal(err)
	}
	if cur.Version != v3.Version {
		t.Fatalf("after a failed publication the current version is %d, want %d", cur.Version, v3.Version)
	}
	sameView(t, v3, cur)
	e.crash.Store(false)
	plan5, _, err := e.recompute()
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := view.Current(ctx, e.rdb, e.prefix); m.Version != plan5.Version {
		t.Fatalf("current %d, want %d", m.Version, plan5.Version)
	}
	for _, n := range v3.Nodes {
		if !contains(plan5Nodes(t, e), n) && e.rdb.PTTL(ctx, n).Val() <= 0 {
			t.Errorf("retired node %s has no TTL", n)
		}
	}
}

func plan5Nodes(t *testing.T, e *env) []string {
	m, err := view.Current(context.Background(), e.rdb, e.prefix)
	if err != nil {
		t.Fatal(err)
	}
	return m.Nodes
}

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

// lateEvents are events two days before the boundary, on busy airports.
func lateEvents(boundary int64, n int) []flight.Event {
	origins := []string{"ATL", "ORD", "DFW", "LAX", "DEN"}
	var out []flight.Event
	for i := range n {
		out = append(out, flight.Event{
			ID: fmt.Sprintf("late-%03d", i), Time: (boundary - 48*3600 + int64(i%5)*60) * 1e6,
			Origin: origins[i%len(origins)], Destination: "SFO", Delay: int32(100 + i), Distance: 500,
			Producer: "late-test", Seq: uint64(i + 1),
		})
	}
	return out
}

// startSpeed runs a speed-layer worker in this process.
func (e *env) startSpeed() func() {
	ctx, cancel := context.WithCancel(context.Background())
	conn := testenv.AMQP(e.t)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := speed.Run(ctx, speed.Config{Redis: e.rdb, AMQP: conn, Streams: e.streams, KeyPrefix: e.prefix, WorkerID: e.prefix + "-speed",
			FlushInterval: 200 * time.Millisecond, LeaseTTL: 3 * time.Second, Log: quietLog(),
			Covered: reconcile.Covered(e.rdb, e.prefix), CoverageInterval: 200 * time.Millisecond})
		if err != nil && !errors.Is(err, context.Canceled) {
			e.t.Errorf("speed: %v", err)
		}
	}()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); wg.Wait() }) }
	e.t.Cleanup(stop)
	return stop
}

// waitSpeed waits until the speed layer committed every message published.
func (e *env) waitSpeed() {
	e.t.Helper()
	r := store.NewReader(e.rdb, e.prefix, e.streams.Partitions)
	var lag string
	deadline := time.Now().Add(3 * time.Minute)
	for {
		lag = ""
		for p, n := range e.published {
			ps, err := r.Partition(context.Background(), p)
			if err != nil || ps.Offset != n-1 {
				lag += fmt.Sprintf(" p%d:%d/%d", p, ps.Offset, n-1)
			}
		}
		if lag == "" {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("the speed layer did not catch up within 3m (committed/last offsets):%s", lag)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
