package speed_test

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/ingest/dataset"
	"github.com/tributary-dev/tributary/ingest/feed"
	"github.com/tributary-dev/tributary/ingest/topology"
	"github.com/tributary-dev/tributary/ingest/wire"
	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/speed"
	"github.com/tributary-dev/tributary/speed/keyspace"
	"github.com/tributary-dev/tributary/speed/metrics"
	"github.com/tributary-dev/tributary/speed/store"
)

// rows is how many flights of the data set the tests replay.
const rows = 200_000

// env is one test's private streams and keys on the shared services.
type env struct {
	t         *testing.T
	rdb       redis.UniversalClient
	conn      *amqp.Connection
	streams   topology.Streams
	keyPrefix string
	reader    *store.Reader
	data      string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvOn(t, testenv.Redis(t))
}

// newEnvOn is newEnv with the views in rdb.
func newEnvOn(t *testing.T, rdb redis.UniversalClient) *env {
	t.Helper()
	prefix := testenv.Prefix(t)
	e := &env{
		t: t, rdb: rdb, conn: testenv.AMQP(t),
		streams:   topology.Streams{Prefix: prefix, Partitions: topology.DefaultPartitions},
		keyPrefix: prefix, data: testenv.DataFile(t, "flights-3m.parquet"),
	}
	e.reader = store.NewReader(e.rdb, prefix, e.streams.Partitions)
	ch, err := e.conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.streams.Declare(ch); err != nil {
		t.Fatal(err)
	}
	ch.Close()
	t.Cleanup(func() {
		// Own queues and keys only: other packages use the same services.
		conn, err := amqp.Dial(testenv.AMQPURL(t))
		if err == nil {
			if ch, err := conn.Channel(); err == nil {
				_ = e.streams.Delete(ch)
			}
			conn.Close()
		}
		testenv.DeleteKeys(e.rdb, keyspace.New(prefix).Base()+"*")
	})
	return e
}

// publish publishes rows [from, to) and returns what was published.
func (e *env) publish(from, to int64) feed.Result {
	e.t.Helper()
	res, err := feed.Publish(context.Background(), e.conn, e.streams, feed.Options{DataPath: e.data, From: from, To: to, Batch: 500, Producer: "replay"})
	if err != nil {
		e.t.Fatalf("publish: %v", err)
	}
	return res
}

// inProcess runs a worker in this process until the returned stop is called.
func (e *env) inProcess(id string) (stop func(), m *metrics.Metrics) {
	e.t.Helper()
	return e.inProcessWith(id, nil)
}

// inProcessWith is inProcess with the worker's configuration changed by mod
// (when not nil) before it starts.
func (e *env) inProcessWith(id string, mod func(*speed.Config)) (stop func(), m *metrics.Metrics) {
	e.t.Helper()
	conn := testenv.AMQP(e.t)
	ctx, cancel := context.WithCancel(context.Background())
	m = metrics.New(nil)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		cfg := speed.Config{
			Redis: e.rdb, AMQP: conn, Streams: e.streams, KeyPrefix: e.keyPrefix, WorkerID: id,
			FlushInterval: 200 * time.Millisecond, LeaseTTL: 2 * time.Second, BucketTTL: time.Hour,
			Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), Metrics: m,
		}
		if mod != nil {
			mod(&cfg)
		}
		err := speed.Run(ctx, cfg)
		if err != nil {
			e.t.Errorf("worker %s: %v", id, err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	e.t.Cleanup(stop)
	return stop, m
}

// replayEvent makes events of producer "replay" from origin to dest laid out
// by hand: seq at t0+at, its delay the seq, its ID idPrefix-seq.
func replayEvent(idPrefix string, t0 time.Time, origin, dest string) func(seq uint64, at time.Duration) flight.Event {
	return func(seq uint64, at time.Duration) flight.Event {
		return flight.Event{ID: fmt.Sprintf("%s-%d", idPrefix, seq), Time: t0.Add(at).UnixMicro(), Origin: origin, Destination: dest,
			Delay: int32(seq), Distance: 100, Producer: "replay", Seq: seq}
	}
}

// eventPublisher publishes Arrow messages of chosen events of producer to
// partition p's stream, each confirmed, and counts them in published (per
// partition, for waitCommitted).
func (e *env) eventPublisher(producer string, p int, published []int64) func(events []flight.Event) {
	e.t.Helper()
	ch, err := e.conn.Channel()
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { ch.Close() })
	if err := ch.Confirm(false); err != nil {
		e.t.Fatal(err)
	}
	enc := wire.NewArrowEncoder(producer)
	return func(events []flight.Event) {
		e.t.Helper()
		body, err := enc.Encode(events)
		if err != nil {
			e.t.Fatal(err)
		}
		c, err := ch.PublishWithDeferredConfirmWithContext(context.Background(), "", e.streams.Queue(p), false, false,
			amqp.Publishing{ContentType: wire.ContentTypeArrow, Body: append([]byte(nil), body...), DeliveryMode: amqp.Persistent})
		if err != nil {
			e.t.Fatal(err)
		}
		if ok, err := c.WaitContext(context.Background()); err != nil || !ok {
			e.t.Fatalf("publish not confirmed: %v %v", ok, err)
		}
		published[p]++
	}
}

// waitCommitted waits until every partition's committed offset reaches the
// stream's end (messages published - 1). Generous: no timing assertion.
func (e *env) waitCommitted(messages []int64, within time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		done := true
		last = ""
		for p, n := range messages {
			st, err := e.reader.Partition(context.Background(), p)
			if err != nil {
				e.t.Fatal(err)
			}
			if st.Offset != n-1 {
				done = false
				last += fmt.Sprintf(" p%d:%d/%d", p, st.Offset, n-1)
			}
		}
		if done {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	e.t.Fatalf("committed offsets did not reach the streams' ends within %v:%s", within, last)
}

// totalMessages adds per-partition message counts.
func totalMessages(rs ...feed.Result) []int64 {
	out := make([]int64, len(rs[0].Messages))
	for _, r := range rs {
		for p, n := range r.Messages {
			out[p] += n
		}
	}
	return out
}

// want is one bucket's exact value, computed straight from the data set.
type want struct {
	stats flight.Stats
	hist  flight.Histogram
	dests map[string]struct{}
}

type bucketRef struct {
	view  string
	group string
	hour  int64
}

// expected computes every bucket of every view from rows [0, n) with plain
// maps, independently of the aggregation code.
func expected(t *testing.T, path string, n int64) (map[bucketRef]*want, int64) {
	t.Helper()
	f, err := dataset.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[bucketRef]*want{}
	var events int64
	err = f.Scan(context.Background(), 0, n, func(b *dataset.Batch) error {
		for _, ev := range b.Events {
			events++
			hour := time.UnixMicro(ev.Time).UTC().Truncate(time.Hour).Unix()
			for _, ref := range []bucketRef{{"airport_hour", ev.Origin, hour}, {"route_hour", ev.Origin + "-" + ev.Destination, hour}} {
				w := out[ref]
				if w == nil {
					w = &want{dests: map[string]struct{}{}}
					out[ref] = w
				}
				s := &w.stats
				if s.Count == 0 || ev.Delay < s.Min {
					s.Min = ev.Delay
				}
				if s.Count == 0 || ev.Delay > s.Max {
					s.Max = ev.Delay
				}
				s.Count++
				s.Sum += int64(ev.Delay)
				if ev.Delay >= 15 {
					s.Delayed++
				}
				w.hist.Add(ev.Delay)
				w.dests[ev.Destination] = struct{}{}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, events
}

// distinctOK: the speed layer keeps every bucket's exact set of
// destinations, so its distinct counts are exact.
func distinctOK(got int64, exact int) bool { return got == int64(exact) }

// checkViews compares every bucket in Redis with the exact values, and checks
// that Redis has no bucket the data set does not.
func (e *env) checkViews(exp map[bucketRef]*want) {
	e.t.Helper()
	ctx := context.Background()
	refs := make([]bucketRef, 0, len(exp))
	for r := range exp {
		refs = append(refs, r)
	}
	sort.Slice(refs, func(i, j int) bool {
		if refs[i].hour != refs[j].hour {
			return refs[i].hour < refs[j].hour
		}
		if refs[i].view != refs[j].view {
			return refs[i].view < refs[j].view
		}
		return refs[i].group < refs[j].group
	})
	qs := flight.Percentiles()
	var bad, hllMaxErr int
	groups := map[[2]string]map[string]bool{} // (view, hour) -> groups
	for lo := 0; lo < len(refs); lo += 2000 {
		chunk := refs[lo:min(lo+2000, len(refs))]
		sr := make([]store.Ref, len(chunk))
		for i, r := range chunk {
			sr[i] = store.Ref{View: r.view, Group: r.group, Hour: r.hour}
		}
		got, err := e.reader.Buckets(ctx, sr)
		if err != nil {
			e.t.Fatal(err)
		}
		for i, r := range chunk {
			w, g := exp[r], got[i]
			k := [2]string{r.view, fmt.Sprint(r.hour)}
			if groups[k] == nil {
				groups[k] = map[string]bool{}
			}
			groups[k][r.group] = true
			if g.Stats != w.stats {
				bad++
				if bad < 10 {
					e.t.Errorf("%v: stats %+v, want %+v", r, g.Stats, w.stats)
				}
				continue
			}
			exact, _ := w.hist.Quantiles(qs...)
			for j := range qs {
				if len(g.Quantiles) != len(qs) || !flight.WithinSketchBound(g.Quantiles[j].Value, exact[j]) {
					bad++
					e.t.Errorf("%v: quantiles %+v, exact %v", r, g.Quantiles, exact)
					break
				}
			}
			if r.view == "airport_hour" {
				if !distinctOK(g.Distinct, len(w.dests)) {
					bad++
					e.t.Errorf("%v: distinct %d, exact %d", r, g.Distinct, len(w.dests))
				}
				hllMaxErr = max(hllMaxErr, int(math.Abs(float64(g.Distinct)-float64(len(w.dests)))))
			}
		}
		if bad > 20 {
			e.t.Fatalf("too many wrong buckets")
		}
	}
	// No extra buckets: every (view, hour) group set is exactly the expected one.
	for k, gs := range groups {
		var hour int64
		fmt.Sscan(k[1], &hour)
		got, err := e.reader.Groups(ctx, k[0], hour)
		if err != nil {
			e.t.Fatal(err)
		}
		if len(got) != len(gs) {
			e.t.Errorf("%s hour %d: %d groups in Redis, %d expected", k[0], hour, len(got), len(gs))
		}
	}
	e.checkDigests(exp)
	e.t.Logf("checked %d buckets (%d view-hours): stats exact, quantiles within α=%v, max HLL error %d, digests exact",
		len(refs), len(groups), flight.SketchRelativeAccuracy, hllMaxErr)
}

// checkDigests checks that every hour's digest (keyspace.FieldDigest, kept
// by the partitions' owners through crashes and takeovers) is the sum of
// the hashes of the exact buckets: the sketch bins of each bucket's exact
// histogram, its exact destinations.
func (e *env) checkDigests(exp map[bucketRef]*want) {
	e.t.Helper()
	type vh struct {
		view string
		hour int64
	}
	sums, counts := map[vh]uint64{}, map[vh]int64{}
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for r, w := range exp {
		h := flight.NewBucketHash(r.group, w.stats)
		var bins []flight.Bin
		w.hist.Each(func(d int32, n int64) {
			b := flight.SketchBin(d)
			if len(bins) > 0 && bins[len(bins)-1].Bin == b {
				bins[len(bins)-1].N += n
			} else {
				bins = append(bins, flight.Bin{Bin: b, N: n})
			}
		})
		for _, b := range bins {
			h.Bin(b.Bin, b.N)
		}
		if r.view == "airport_hour" {
			ds := make([]string, 0, len(w.dests))
			for d := range w.dests {
				ds = append(ds, d)
			}
			sort.Strings(ds)
			for _, d := range ds {
				h.Dest(d)
			}
		}
		sums[vh{r.view, r.hour}] += h.Sum()
		counts[vh{r.view, r.hour}]++
		lo, hi = min(lo, r.hour), max(hi, r.hour+3600)
	}
	bad := 0
	for _, v := range flight.Views() {
		ds, err := e.reader.HourDigests(context.Background(), v.Name, lo, hi)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, d := range ds {
			k := vh{v.Name, d.Hour}
			if !d.Complete || d.Sum != sums[k] || d.Buckets != counts[k] || d.Present != (counts[k] > 0) {
				if bad++; bad < 10 {
					e.t.Errorf("%s hour %d: digest %+v, want sum %x of %d buckets", v.Name, d.Hour, d, sums[k], counts[k])
				}
			}
		}
	}
}

// checkTotals checks the partitions' counters: applied = the valid events,
// and returns the duplicates, late and quarantined totals.
func (e *env) checkTotals(events int64) (dups, late, quarantined int64) {
	e.t.Helper()
	var applied int64
	for p := 0; p < e.streams.Partitions; p++ {
		st, err := e.reader.Partition(context.Background(), p)
		if err != nil {
			e.t.Fatal(err)
		}
		applied += st.Applied
		dups += st.Duplicates
		late += st.Late
		quarantined += st.Quarantined
	}
	if applied != events {
		e.t.Errorf("applied %d events, want %d", applied, events)
	}
	return dups, late, quarantined
}
