package batchtest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/pipelinetest"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/batch/archive"
	"github.com/tributary-dev/tributary/batch/recompute"
	"github.com/tributary-dev/tributary/batch/reconcile"
	"github.com/tributary-dev/tributary/batch/segment"
	"github.com/tributary-dev/tributary/batch/segstore"
	"github.com/tributary-dev/tributary/batch/view"
	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/ingest/dataset"
	"github.com/tributary-dev/tributary/ingest/feed"
	"github.com/tributary-dev/tributary/ingest/topology"
	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/scheduler"
	"github.com/tributary-dev/tributary/speed/store"
	"github.com/tributary-dev/tributary/workers"
)

func quietLog() *slog.Logger {
	lvl := slog.LevelWarn
	if os.Getenv("TRIBUTARY_TEST_LOG") != "" {
		lvl = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
}

// env is one test's streams, keys, segment directory, scheduler and workers.
type env struct {
	t        *testing.T
	rdb      redis.UniversalClient
	conn     *amqp.Connection
	streams  topology.Streams
	prefix   string
	storeDir string
	data     string
	sch      *scheduler.Scheduler
	// crash makes batch.publish stop right before its switch.
	crash atomic.Bool
	// published counts the messages published per partition.
	published []int64
}

func newEnv(t *testing.T) *env {
	t.Helper()
	prefix := testenv.Prefix(t)
	e := &env{t: t, rdb: testenv.Redis(t), conn: testenv.AMQP(t), prefix: prefix,
		streams:  topology.Streams{Prefix: prefix, Partitions: topology.DefaultPartitions},
		storeDir: t.TempDir(), data: testenv.DataFile(t, "flights-3m.parquet")}
	ch, err := e.conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.streams.Declare(ch); err != nil {
		t.Fatal(err)
	}
	ch.Close()
	t.Cleanup(func() {
		// Own queues and keys only: other packages share the services.
		if conn, err := amqp.Dial(testenv.AMQPURL(t)); err == nil {
			if ch, err := conn.Channel(); err == nil {
				_ = e.streams.Delete(ch)
			}
			conn.Close()
		}
		pipelinetest.Cleanup(e.rdb, prefix)
	})
	return e
}

// startScheduler runs a scheduler and two workers (the "2 workers")
// in this process, with the batch functions.
func (e *env) startScheduler() {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	funcs := recompute.NewFuncs(e.rdb, quietLog(), func(prefix string) reconcile.SpeedReader {
		return store.NewReader(e.rdb, prefix, e.streams.Partitions)
	})
	for i := range 2 {
		reg, err := workers.NewRegistry(func(r *workers.Registry) error {
			for name, fn := range map[string]workers.Func{recompute.FuncPartial: funcs.Partial, recompute.FuncMerge: funcs.Merge,
				recompute.FuncReconcile: funcs.Reconcile, recompute.FuncPublish: e.publish(funcs)} {
				if err := r.Register(name, fn); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			e.t.Fatal(err)
		}
		w, err := workers.New(workers.Config{Redis: e.rdb, KeyPrefix: e.prefix, Concurrency: 2, ID: fmt.Sprintf("%s-w%d", e.prefix, i), Log: quietLog()}, reg)
		if err != nil {
			e.t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = w.Run(ctx) }()
	}
	sch, err := scheduler.New(scheduler.Config{Redis: e.rdb, KeyPrefix: e.prefix, Log: quietLog(), Defaults: scheduler.Defaults{MaxRetries: 2}})
	if err != nil {
		e.t.Fatal(err)
	}
	e.sch = sch
	wg.Add(1)
	go func() { defer wg.Done(); _ = sch.Run(ctx) }()
	e.t.Cleanup(func() { cancel(); wg.Wait() })
	waitFor(e.t, 30*time.Second, "workers advertised", func() bool {
		fns, err := sch.Functions(context.Background())
		return err == nil && fns[recompute.FuncPartial] == 2
	})
}

// publish is batch.publish, or, while e.crash is set, a publication that
// dies after building its manifest, right before the switch.
func (e *env) publish(f *recompute.Funcs) workers.Func {
	return func(ctx context.Context, c workers.Call) ([]byte, error) {
		if e.crash.Load() {
			if _, _, err := f.Manifest(c); err != nil {
				return nil, err
			}
			return nil, workers.Permanent(fmt.Errorf("simulated crash before the switch"))
		}
		return f.Publish(ctx, c)
	}
}

// startArchiver runs the archiver in this process until the test ends.
func (e *env) startArchiver(segmentEvents int) {
	e.t.Helper()
	st, err := segstore.Open(context.Background(), e.storeDir)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := archive.Run(ctx, archive.Config{Redis: e.rdb, AMQPURL: testenv.AMQPURL(e.t), Streams: e.streams, KeyPrefix: e.prefix,
			Store: st, StoreURL: e.storeDir, SegmentEvents: segmentEvents, SegmentInterval: 300 * time.Millisecond, Log: quietLog()})
		if err != nil {
			e.t.Errorf("archive: %v", err)
		}
	}()
	e.t.Cleanup(func() { cancel(); <-done })
}

func (e *env) feed(from, to int64, producer string) feed.Result {
	e.t.Helper()
	res, err := feed.Publish(context.Background(), e.conn, e.streams, feed.Options{DataPath: e.data, From: from, To: to, Batch: 500, Producer: producer})
	if err != nil {
		e.t.Fatalf("publish: %v", err)
	}
	e.count(res.Messages)
	return res
}

// waitArchived waits until the archive committed `events` events.
func (e *env) waitArchived(events int64) *archive.State {
	e.t.Helper()
	var st *archive.State
	waitFor(e.t, 3*time.Minute, fmt.Sprintf("%d events archived", events), func() bool {
		var err error
		st, err = archive.ReadState(context.Background(), e.rdb, e.prefix)
		if err != nil {
			return false
		}
		var n int64
		for _, p := range st.Partitions {
			n += p.Events
		}
		return n == events
	})
	return st
}

func (e *env) recompute() (*recompute.Plan, *scheduler.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	return recompute.Run(ctx, e.sch, e.rdb, recompute.Options{KeyPrefix: e.prefix, FanIn: 4, Grace: 10 * time.Minute}, nil)
}

func (e *env) count(msgs []int64) {
	if e.published == nil {
		e.published = make([]int64, e.streams.Partitions)
	}
	for p, n := range msgs {
		e.published[p] += n
	}
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for: %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// bucket is one expected bucket, from plain maps and sorting.
type bucket struct {
	delays []int32
	dests  map[string]struct{}
}

type ref struct {
	view, group string
	hour        int64
}

// expectation is every bucket of both views, computed independently of the
// batch code: straight from the Parquet file (and extra events), plain maps.
type expectation map[ref]*bucket

func (x expectation) add(origin, dest string, timeMicros int64, delay int32) {
	hour := time.UnixMicro(timeMicros).UTC().Truncate(time.Hour).Unix()
	for _, r := range []ref{{"airport_hour", origin, hour}, {"route_hour", origin + "-" + dest, hour}} {
		b := x[r]
		if b == nil {
			b = &bucket{dests: map[string]struct{}{}}
			x[r] = b
		}
		b.delays = append(b.delays, delay)
		b.dests[dest] = struct{}{}
	}
}

func expectRows(t *testing.T, path string, from, to int64, x expectation) {
	t.Helper()
	f, err := dataset.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = f.Scan(context.Background(), from, to, func(b *dataset.Batch) error {
		for _, ev := range b.Events {
			x.add(ev.Origin, ev.Destination, ev.Time, ev.Delay)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// nearestRank is the q-quantile of sorted values by the nearest-rank method.
func nearestRank(sorted []int32, q float64) int32 {
	r := max(1, min(len(sorted), ceilInt(q*float64(len(sorted)))))
	return sorted[r-1]
}

func ceilInt(f float64) int {
	i := int(f)
	if float64(i) < f {
		i++
	}
	return i
}

// checkView compares every bucket before the boundary with x, exactly.
func checkView(t *testing.T, v *view.View, x expectation) {
	t.Helper()
	var want, got, bad int
	for r, b := range x {
		if r.hour >= v.Boundary {
			continue
		}
		want++
		a, err := v.Bucket(r.view, r.group, r.hour)
		if err != nil {
			t.Fatal(err)
		}
		d := slices.Clone(b.delays)
		slices.Sort(d)
		var sum, delayed int64
		for _, x := range d {
			sum += int64(x)
			if x >= 15 {
				delayed++
			}
		}
		q, _ := a.Quantiles(0.5, 0.95, 0.99)
		var qs []int32
		if len(q) == 3 {
			qs = q
		}
		wantQ := []int32{nearestRank(d, 0.5), nearestRank(d, 0.95), nearestRank(d, 0.99)}
		ok := a.Count == int64(len(d)) && a.Sum == sum && a.Delayed == delayed && a.Min == d[0] && a.Max == d[len(d)-1] && slices.Equal(qs, wantQ)
		if r.view == "airport_hour" {
			ok = ok && a.Distinct() == int64(len(b.dests))
			for dst := range b.dests {
				if _, in := a.Destinations[dst]; !in {
					ok = false
				}
			}
		}
		if !ok {
			bad++
			if bad <= 5 {
				t.Errorf("bucket %v: got count %d sum %d delayed %d min %d max %d q %v distinct %d; want %d %d %d %d %d %v %d",
					r, a.Count, a.Sum, a.Delayed, a.Min, a.Max, qs, a.Distinct(), len(d), sum, delayed, d[0], d[len(d)-1], wantQ, len(b.dests))
			}
		}
	}
	for _, name := range v.Views() {
		gs, _ := v.Groups(name)
		for _, g := range gs {
			hs, _ := v.Hours(name, g)
			got += len(hs)
		}
	}
	if bad > 0 || got != want {
		t.Fatalf("%d of %d buckets differ; the view has %d buckets before the boundary, want %d", bad, want, got, want)
	}
	t.Logf("all %d buckets before %s equal the independent computation", want, time.Unix(v.Boundary, 0).UTC())
}

// sameView checks that two loaded versions hold the same buckets.
func sameView(t *testing.T, a, b *view.View) {
	t.Helper()
	if a.Boundary != b.Boundary {
		t.Fatalf("boundaries differ: %d vs %d", a.Boundary, b.Boundary)
	}
	n := 0
	for _, name := range a.Views() {
		ga, _ := a.Groups(name)
		gb, _ := b.Groups(name)
		if !slices.Equal(ga, gb) {
			t.Fatalf("view %s: groups differ (%d vs %d)", name, len(ga), len(gb))
		}
		for _, g := range ga {
			ha, _ := a.Hours(name, g)
			hb, _ := b.Hours(name, g)
			if !slices.Equal(ha, hb) {
				t.Fatalf("view %s group %s: hours differ", name, g)
			}
			for _, h := range ha {
				x, _ := a.Bucket(name, g, h)
				y, _ := b.Bucket(name, g, h)
				if x.Stats != y.Stats || fmt.Sprint(hist(&x)) != fmt.Sprint(hist(&y)) || !sameSet(x.Destinations, y.Destinations) {
					t.Fatalf("view %s group %s hour %d differs: %+v vs %+v", name, g, h, x.Stats, y.Stats)
				}
				n++
			}
		}
	}
	t.Logf("%d buckets identical", n)
}

func hist(a *view.Aggregate) [][2]int64 {
	var out [][2]int64
	a.Hist.Each(func(d int32, c int64) { out = append(out, [2]int64{int64(d), c}) })
	return out
}

func sameSet(a, b map[string]struct{}) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

// segmentEvents reads every committed segment and returns its events.
func segmentEvents(t *testing.T, dir string, st *archive.State) map[int][]flight.Event {
	t.Helper()
	s, err := segstore.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int][]flight.Event{}
	for _, p := range st.Partitions {
		for _, n := range p.Names {
			b, err := s.Get(context.Background(), n.String())
			if err != nil {
				t.Fatal(err)
			}
			evs, err := segment.Decode(context.Background(), b)
			if err != nil {
				t.Fatal(err)
			}
			out[p.Partition] = append(out[p.Partition], evs...)
		}
	}
	return out
}

// lateEvent is a JSON event as any AMQP client would publish it.
func publishJSON(t *testing.T, e *env, conn *amqp.Connection, streams topology.Streams, evs []flight.Event) {
	t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		body, _ := json.Marshal(map[string]any{"id": ev.ID, "time": time.UnixMicro(ev.Time).UTC().Format(time.RFC3339),
			"origin": ev.Origin, "destination": ev.Destination, "delay": ev.Delay, "distance": ev.Distance,
			"producer": ev.Producer, "seq": ev.Seq})
		dc, err := ch.PublishWithDeferredConfirmWithContext(context.Background(), "", streams.Queue(streams.PartitionOf(ev.Origin)), false, false,
			amqp.Publishing{ContentType: "application/json", Body: body, DeliveryMode: amqp.Persistent})
		if err != nil {
			t.Fatal(err)
		}
		if !dc.Wait() {
			t.Fatal("nacked")
		}
		if e != nil {
			one := make([]int64, streams.Partitions)
			one[streams.PartitionOf(ev.Origin)] = 1
			e.count(one)
		}
	}
}
