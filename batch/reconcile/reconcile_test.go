package reconcile_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/batch/batchkeys"
	"github.com/tributary-dev/tributary/batch/partial"
	"github.com/tributary-dev/tributary/batch/reconcile"
	"github.com/tributary-dev/tributary/batch/view"
	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/speed/keyspace"
	"github.com/tributary-dev/tributary/speed/store"
	"github.com/tributary-dev/tributary/speed/store/storetest"
)

const hour0 = 978307200 // 2001-01-01

// partitions is the speed layer's number of partitions in these tests: a
// reader reads every partition's hash of an hour.
const partitions = 4

// data is one test's events: what only the batch view has, what only the
// speed layer has, and what both have.
type data struct {
	both, batchOnly, speedOnly []flight.Event
}

func event(rng *rand.Rand, origins, dests []string, hours int64, at int64) flight.Event {
	return flight.Event{ID: "x", Producer: "p", Distance: 1,
		Time:   (at + rng.Int64N(hours*3600)) * 1e6,
		Origin: origins[rng.IntN(len(origins))], Destination: dests[rng.IntN(len(dests))],
		Delay: int32(rng.IntN(300) - 40)}
}

// TestRunReportsEveryDifference: a batch view (three nodes, so that buckets
// are split over nodes) and speed buckets (the speed layer's own writer)
// that agree on most buckets over 400 hours and differ on purpose: events
// only the batch view has (late ones: in buckets the speed layer has, and in
// buckets it lacks), speed events in buckets the batch view lacks (a group it
// has, and a group it does not have), and a bucket whose counts agree but
// whose delays differ. The report is checked field by field against the same
// comparison computed here from the events (flight.Histogram and
// flight.DelaySketch), at several parallelisms, from the view's first hour
// and from a previous boundary; and the speed hours compared get the grace
// TTL, the later ones none.
func TestRunReportsEveryDifference(t *testing.T) {
	ctx := context.Background()
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix+":*") })
	rng := rand.New(rand.NewPCG(7, 8))
	origins := []string{"ATL", "BOS", "DEN", "JFK", "LAX", "ORD"}
	dests := []string{"ATL", "BOS", "DEN", "JFK", "LAX", "ORD", "SEA", "SFO"}
	const hours = 400 // more than one chunk of hours
	var d data
	for range 20000 {
		d.both = append(d.both, event(rng, origins, dests, hours, hour0))
	}
	// Late events: the batch view has them, the speed layer refused them.
	for range 300 {
		d.batchOnly = append(d.batchOnly, event(rng, origins, dests, hours, hour0))
	}
	d.batchOnly = append(d.batchOnly, event(rng, []string{"MIA"}, dests, 1, hour0+100*3600)) // a group only the batch view has
	// The speed layer alone: a group the view lacks, and an hour the view lacks for a group it has.
	d.speedOnly = append(d.speedOnly, event(rng, []string{"PHX"}, dests, 1, hour0+30*3600),
		event(rng, []string{"PHX"}, dests, 1, hour0+250*3600), event(rng, []string{"ATL"}, []string{"ATL"}, 1, hour0+hours*3600-3600))
	// Same count, other delays: a stats mismatch (in both views).
	x := event(rng, []string{"SEA"}, []string{"BOS"}, 1, hour0+200*3600)
	y := x
	y.Delay += 17
	d.batchOnly, d.speedOnly = append(d.batchOnly, x), append(d.speedOnly, y)
	// Data after the boundary on both sides: neither compared nor expired.
	boundary := int64(hour0 + (hours-2)*3600)
	for range 50 {
		d.both = append(d.both, event(rng, origins, dests, 30, boundary))
	}

	batchEvents := append(slices.Clone(d.both), d.batchOnly...)
	speedEvents := append(slices.Clone(d.both), d.speedOnly...)
	publish(t, rdb, prefix, batchEvents, boundary)
	flushSpeed(t, rdb, prefix, speedEvents)

	first := firstHour(batchEvents)
	for _, tc := range []struct {
		name        string
		prev, first int64
		parallelism int
	}{
		{"from the first hour, one at a time", 0, 0, 1},
		{"from the first hour, 3 at once", 0, 0, 3},
		{"from a previous boundary", hour0 + 150*3600, 0, 0},
		{"from the first hour given", 0, first, 0},
		{"from a first hour given before the data", 0, first - 5*3600, 2},
		{"from a previous boundary, first hour given", hour0 + 150*3600, first, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := reconcile.Run(ctx, reconcile.Config{Redis: rdb, KeyPrefix: prefix, Speed: store.NewReader(rdb, prefix, partitions),
				Version: 1, PrevBoundary: tc.prev, FirstHour: tc.first,
				Grace: time.Hour, Parallelism: tc.parallelism})
			if err != nil {
				t.Fatal(err)
			}
			from := tc.prev
			if from == 0 {
				from = first
				if tc.first != 0 {
					from = tc.first
				}
			}
			want := expected(batchEvents, speedEvents, from, boundary)
			want.Version, want.At, want.GraceMS = 1, rep.At, time.Hour.Milliseconds()
			if !sameReport(rep, want) {
				t.Fatalf("report\n%+v\nwant\n%+v", *rep, *want)
			}
			if want.CountMismatches < 300 || want.StatsMismatches != 2 || want.ExtraInSpeed < 2 || want.MissingInSpeed < 1 ||
				want.HoursByDigest == 0 || want.HoursCompared == 0 {
				t.Fatalf("the data does not exercise every difference: %+v", *want)
			}
			last, err := reconcile.Last(ctx, rdb, prefix)
			if err != nil || !sameReport(last, want) {
				t.Fatalf("stored report %+v, %v", last, err)
			}
		})
	}
	// The batch layer gives speed keys no TTL: the speed layer does, once
	// it sees the report's end and grace (speed's coverage duty).
	keys := keyspace.New(prefix)
	found := 0
	for _, v := range flight.Views() {
		for p := range partitions {
			switch ttl := rdb.PTTL(ctx, keys.Hour(p, v.Name, hour0+10*3600)).Val(); {
			case ttl == -2: // no bucket of that partition in that hour
			case ttl != -1:
				t.Errorf("%s partition %d: TTL %v after the reconciliation, want none", v.Name, p, ttl)
			default:
				found++
			}
		}
	}
	if found == 0 {
		t.Fatal("no speed hash at the hour checked: the check checks nothing")
	}
	if to, grace, err := reconcile.Covered(rdb, prefix)(ctx); err != nil || to != boundary || grace != time.Hour {
		t.Errorf("Covered: %d %v %v, want the report's end %d and grace 1h", to, grace, err, boundary)
	}
	// A version that is no longer current is not reconciled.
	cfg := reconcile.Config{Redis: rdb, KeyPrefix: prefix, Speed: store.NewReader(rdb, prefix, partitions), Version: 2}
	if _, err := reconcile.Run(ctx, cfg); err != reconcile.ErrSuperseded {
		t.Fatalf("reconciling a version that is not current: %v, want ErrSuperseded", err)
	}
}

// TestRunComparesBucketsWhereDigestsDiffer: speed and batch views of the
// same events over 12 hours, then one difference at a time, made by the
// events (a late event, a group only one side has) or behind the speed
// layer's back (a bucket deleted while its hour's digest still counts it, a
// digest lost as from a hash written before digests existed). The report is
// checked against the comparison of the events: every difference is found
// through its hour's digest and the hours whose digests agree are not
// compared bucket by bucket; an hour without its digest is compared bucket
// by bucket, never taken for a match.
func TestRunComparesBucketsWhereDigestsDiffer(t *testing.T) {
	ctx := context.Background()
	rdb := testenv.Redis(t)
	rng := rand.New(rand.NewPCG(3, 4))
	origins := []string{"ATL", "BOS", "DEN", "JFK", "LAX", "ORD"}
	dests := []string{"ATL", "BOS", "DEN", "JFK", "LAX", "ORD", "SEA", "SFO"}
	const hours = 12
	var both []flight.Event
	for range 3000 {
		both = append(both, event(rng, origins, dests, hours, hour0))
	}
	boundary := int64(hour0 + hours*3600)
	atl5 := event(rng, []string{"ATL"}, []string{"BOS"}, 1, hour0+5*3600) // in a bucket both sides have
	atl5.Time = (hour0 + 5*3600) * 1e6
	// lostDigest deletes the digest of the partition hash holding group's
	// bucket of one hour, as a speed layer before digests wrote it.
	lostDigest := func(v, group string, h int64) func(t *testing.T, prefix string) {
		return func(t *testing.T, prefix string) {
			k := keyspace.New(prefix).Hour(keyspace.GroupPartition(group, partitions), v, h)
			if n := rdb.HDel(ctx, k, keyspace.FieldDigest).Val(); n != 1 {
				t.Fatalf("no digest in %s to delete", k)
			}
		}
	}
	lostBucket := func(v, group string, h int64) func(t *testing.T, prefix string) {
		return func(t *testing.T, prefix string) {
			k := keyspace.New(prefix).Hour(keyspace.GroupPartition(group, partitions), v, h)
			if n := rdb.HDel(ctx, k, group).Val(); n != 1 {
				t.Fatalf("no bucket %s in %s to delete", group, k)
			}
		}
	}
	dropped := func(v, group string, h int64) func(flight.View, [2]string) bool {
		return func(w flight.View, k [2]string) bool {
			return w.Name == v && k == [2]string{group, strconv.FormatInt(h, 10)}
		}
	}
	h5 := int64(hour0 + 5*3600)
	for _, tc := range []struct {
		name                 string
		batchOnly, speedOnly []flight.Event
		tamper               []func(t *testing.T, prefix string)
		drop                 []func(flight.View, [2]string) bool
		// noDigest: the (view, hour) pairs that lost their digest while
		// their buckets agree: compared bucket by bucket all the same
		noDigest int64
		compared int64 // the hours expected to be compared bucket by bucket
	}{
		{name: "identical"},
		{name: "a late event in a bucket both sides have", batchOnly: []flight.Event{atl5}, compared: 2},
		{name: "a bucket the speed layer lacks", batchOnly: []flight.Event{event(rng, []string{"MIA"}, dests, 1, h5)}, compared: 2},
		{name: "a bucket only the speed layer has", speedOnly: []flight.Event{event(rng, []string{"PHX"}, dests, 1, h5)}, compared: 2},
		{name: "a speed bucket deleted behind its digest", tamper: []func(*testing.T, string){lostBucket("airport_hour", "ATL", h5)},
			drop: []func(flight.View, [2]string) bool{dropped("airport_hour", "ATL", h5)}, compared: 1},
		{name: "a digest lost", tamper: []func(*testing.T, string){lostDigest("route_hour", "ATL-BOS", h5)}, noDigest: 1, compared: 1},
		{name: "a digest lost and a bucket deleted in its hash",
			tamper: []func(*testing.T, string){lostDigest("airport_hour", "ATL", h5), lostBucket("airport_hour", "ATL", h5)},
			drop:   []func(flight.View, [2]string) bool{dropped("airport_hour", "ATL", h5)}, compared: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := testenv.Prefix(t)
			t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix+":*") })
			batchEvents := append(slices.Clone(both), tc.batchOnly...)
			speedEvents := append(slices.Clone(both), tc.speedOnly...)
			publish(t, rdb, prefix, batchEvents, boundary)
			flushSpeed(t, rdb, prefix, speedEvents)
			for _, f := range tc.tamper {
				f(t, prefix)
			}
			rep, err := reconcile.Run(ctx, reconcile.Config{Redis: rdb, KeyPrefix: prefix, Speed: store.NewReader(rdb, prefix, partitions),
				Version: 1, Grace: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			want := expected(batchEvents, speedEvents, firstHour(batchEvents), boundary, tc.drop...)
			want.Version, want.At, want.GraceMS = 1, rep.At, time.Hour.Milliseconds()
			want.HoursByDigest -= tc.noDigest
			want.HoursCompared += tc.noDigest
			if !sameReport(rep, want) {
				t.Fatalf("report\n%+v\nwant\n%+v", *rep, *want)
			}
			if want.HoursCompared != tc.compared || want.HoursByDigest+want.HoursCompared != 2*hours {
				t.Fatalf("the case does not make the differences it means: %+v", *want)
			}
			exported := fmt.Sprintf(`# HELP tributary_batch_reconcile_hours (View, hour) pairs of the last reconciliation: settled by their digests (how=digest) or compared bucket by bucket (how=buckets).
# TYPE tributary_batch_reconcile_hours gauge
tributary_batch_reconcile_hours{how="buckets"} %d
tributary_batch_reconcile_hours{how="digest"} %d
`, want.HoursCompared, want.HoursByDigest)
			if err := testutil.CollectAndCompare(reconcile.NewCollector(rdb, prefix), strings.NewReader(exported), "tributary_batch_reconcile_hours"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// publish writes the events as three batch nodes (round robin, so buckets
// are split over them) and publishes them as version 1.
// TestRunLoadsOneViewAtATime: the reconciliation loads one view, compares
// it and releases it before it loads the next (so that the process holds
// one view's buffers at a time), and its report is still that of every view
// over the same hours: from the first hour of any view. Here the batch view
// has early hours in route_hour only (a node of that view alone), so
// airport_hour, loaded first, starts later than the report, and its speed
// buckets of those early hours must still be found extra.
func TestRunLoadsOneViewAtATime(t *testing.T) {
	ctx := context.Background()
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix+":*") })
	rng := rand.New(rand.NewPCG(9, 10))
	origins := []string{"ATL", "BOS", "DEN", "JFK"}
	dests := []string{"ATL", "BOS", "DEN", "JFK", "SEA"}
	var main, early []flight.Event
	for range 3000 {
		main = append(main, event(rng, origins, dests, 40, hour0))
	}
	for range 200 {
		early = append(early, event(rng, origins, dests, 6, hour0-6*3600))
	}
	boundary := int64(hour0 + 38*3600)
	if vs := flight.Views(); len(vs) != 2 || vs[1].Name != "route_hour" {
		t.Fatal("the test expects route_hour to be the last of two views")
	}
	publishNodes(t, rdb, prefix, boundary, []node{{flight.Views(), main}, {[]flight.View{flight.Views()[1]}, early}})
	speedEvents := append(slices.Clone(main), early...)
	flushSpeed(t, rdb, prefix, speedEvents)

	var loads [][]string
	var last *view.View
	load := func(ctx context.Context, rdb redis.Cmdable, m view.Manifest, names ...string) (*view.View, error) {
		if last != nil {
			for _, n := range last.Views() {
				if gs, err := last.Groups(n); err != nil || len(gs) != 0 {
					t.Errorf("loading %v while %s still holds %d groups (%v)", names, n, len(gs), err)
				}
			}
		}
		loads = append(loads, names)
		v, err := view.LoadViews(ctx, rdb, m, names...)
		last = v
		return v, err
	}
	rep, err := reconcile.Run(ctx, reconcile.WithLoader(reconcile.Config{Redis: rdb, KeyPrefix: prefix, Speed: store.NewReader(rdb, prefix, partitions),
		Version: 1, Grace: time.Hour}, load))
	if err != nil {
		t.Fatal(err)
	}
	var want [][]string
	for _, v := range flight.Views() {
		want = append(want, []string{v.Name})
	}
	if !reflect.DeepEqual(loads, want) {
		t.Fatalf("loads %v, want one view at a time: %v", loads, want)
	}
	exp := expectedByView(func(v flight.View) []flight.Event {
		if v.Name == "route_hour" {
			return speedEvents
		}
		return main
	}, speedEvents, firstHour(early), boundary)
	exp.Version, exp.At, exp.GraceMS = 1, rep.At, time.Hour.Milliseconds()
	if !sameReport(rep, exp) {
		t.Fatalf("report\n%+v\nwant\n%+v", *rep, *exp)
	}
	if firstHour(early) >= firstHour(main) || exp.ExtraInSpeed == 0 {
		t.Fatalf("the data does not start route_hour before airport_hour: %+v", *exp)
	}
}

// publish makes version 1, of boundary, the current batch view of evs, in
// three nodes.
func publish(t *testing.T, rdb redis.UniversalClient, prefix string, evs []flight.Event, boundary int64) {
	t.Helper()
	parts := make([]node, 3)
	for i, e := range evs {
		parts[i%3].evs = append(parts[i%3].evs, e)
	}
	for i := range parts {
		parts[i].views = flight.Views()
	}
	publishNodes(t, rdb, prefix, boundary, parts)
}

// node is the events of one node of a batch view, aggregated into views.
type node struct {
	views []flight.View
	evs   []flight.Event
}

// publishNodes makes version 1, of boundary, the current batch view of the
// nodes.
func publishNodes(t *testing.T, rdb redis.UniversalClient, prefix string, boundary int64, parts []node) {
	t.Helper()
	ctx := context.Background()
	k := batchkeys.New(prefix)
	var nodes []string
	var events int64
	for n, part := range parts {
		b := partial.NewBuilder(part.views)
		for _, e := range part.evs {
			b.Add(e.Time, e.Origin, e.Destination, e.Delay)
		}
		out, err := b.Encode()
		if err != nil {
			t.Fatal(err)
		}
		key := k.Node("n" + strconv.Itoa(n))
		if err := rdb.Set(ctx, key, out, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, key)
		events += int64(len(part.evs))
	}
	if _, err := view.Switch(ctx, rdb, prefix, view.Manifest{Version: 1, Boundary: boundary, PublishedAt: time.Now(),
		Segments: int64(len(parts)), Events: events, Nodes: nodes}, time.Minute); err != nil {
		t.Fatal(err)
	}
}

// flushSpeed applies the events through the speed layer's own writer, each
// origin's by its partition (of partitions).
func flushSpeed(t *testing.T, rdb redis.UniversalClient, prefix string, evs []flight.Event) {
	t.Helper()
	storetest.Flush(t, rdb, prefix, partitions, evs)
}

func hourOf(e *flight.Event) int64 { return e.Time / 1e6 / 3600 * 3600 }

func firstHour(evs []flight.Event) int64 {
	first := int64(math.MaxInt64)
	for i := range evs {
		first = min(first, hourOf(&evs[i]))
	}
	return first
}

// side is one layer's buckets of one view, computed from its events.
type side map[[2]string]*bucket

type bucket struct {
	hour  int64
	stats flight.Stats
	hist  flight.Histogram
	sk    flight.DelaySketch
	dests map[string]bool
}

func buckets(v flight.View, evs []flight.Event, before int64) side {
	out := side{}
	for i := range evs {
		e := &evs[i]
		h := hourOf(e)
		if h >= before {
			continue
		}
		k := [2]string{v.Key(e), strconv.FormatInt(h, 10)}
		b := out[k]
		if b == nil {
			b = &bucket{hour: h, dests: map[string]bool{}}
			out[k] = b
		}
		b.stats.Add(e.Delay)
		b.hist.Add(e.Delay)
		b.sk.Add(e.Delay)
		b.dests[e.Destination] = true
	}
	return out
}

// expected is the report of comparing the events' buckets over [from, to),
// computed with the flight package's own exact histogram and sketch.
//
// drop, when not nil, names speed buckets removed behind the speed layer's
// back (its digest still counts them). An hour is expected to be settled
// by its digests when both sides hold the same buckets with the same
// content, and compared bucket by bucket otherwise.
func expected(batchEvs, speedEvs []flight.Event, from, to int64, drop ...func(v flight.View, k [2]string) bool) *reconcile.Report {
	return expectedByView(func(flight.View) []flight.Event { return batchEvs }, speedEvs, from, to, drop...)
}

// expectedByView is expected with the batch view's events of each view
// given apart (batchOf).
func expectedByView(batchOf func(flight.View) []flight.Event, speedEvs []flight.Event, from, to int64, drop ...func(v flight.View, k [2]string) bool) *reconcile.Report {
	rep := &reconcile.Report{From: from, To: to, QuantileRelErr: map[string]float64{}}
	qs := flight.Percentiles()
	for _, q := range qs {
		rep.QuantileRelErr[flight.PercentileName(q)] = 0
	}
	for _, v := range flight.Views() {
		bs, ss := buckets(v, batchOf(v), to), buckets(v, speedEvs, to)
		for k := range ss {
			for _, d := range drop {
				if d(v, k) {
					delete(ss, k)
				}
			}
		}
		same := map[int64]bool{} // the hours with buckets: identical on both sides?
		for k, b := range bs {
			if b.hour >= from {
				s := ss[k]
				ok, seen := same[b.hour]
				same[b.hour] = (ok || !seen) && s != nil && sameBucket(v, b, s)
			}
		}
		for k, s := range ss {
			if s.hour >= from && bs[k] == nil {
				same[s.hour] = false
			}
		}
		for _, ok := range same {
			if ok {
				rep.HoursByDigest++
			} else {
				rep.HoursCompared++
			}
		}
		for k, s := range ss {
			if s.hour < from {
				continue
			}
			if bs[k] == nil {
				rep.ExtraInSpeed++
				rep.CountMismatches++
				rep.MissingEvents -= s.stats.Count
			}
		}
		for k, b := range bs {
			if b.hour < from {
				continue
			}
			rep.Buckets++
			s := ss[k]
			switch {
			case s == nil:
				rep.MissingInSpeed++
				rep.CountMismatches++
				rep.MissingEvents += b.stats.Count
				continue
			case s.stats.Count != b.stats.Count:
				rep.CountMismatches++
				rep.MissingEvents += b.stats.Count - s.stats.Count
				continue
			case s.stats != b.stats:
				rep.StatsMismatches++
			}
			exact, _ := b.hist.Quantiles(qs...)
			got, _ := s.sk.Quantiles(qs...)
			for i, q := range qs {
				rel := math.Abs(got[i]-float64(exact[i])) / math.Max(math.Abs(float64(exact[i])), 1)
				rep.QuantileRelErr[flight.PercentileName(q)] = max(rep.QuantileRelErr[flight.PercentileName(q)], rel)
			}
			if v.DistinctDestinations {
				d := float64(len(b.dests))
				rep.DistinctRelErr = max(rep.DistinctRelErr, math.Abs(float64(len(s.dests))-d)/d)
			}
		}
	}
	return rep
}

// sameBucket says whether a speed bucket is exactly the sketch of a batch
// bucket's events: the same stats, bins and destinations.
func sameBucket(v flight.View, b, s *bucket) bool {
	if b.stats != s.stats || !reflect.DeepEqual(bins(&b.sk), bins(&s.sk)) {
		return false
	}
	return !v.DistinctDestinations || reflect.DeepEqual(b.dests, s.dests)
}

func bins(s *flight.DelaySketch) []flight.Bin {
	var out []flight.Bin
	s.Each(func(bin int32, n int64) { out = append(out, flight.Bin{Bin: bin, N: n}) })
	return out
}

func sameReport(a, b *reconcile.Report) bool {
	if a == nil || b == nil {
		return false
	}
	x, y := *a, *b
	x.At, y.At = time.Time{}, time.Time{}
	qa, qb := x.QuantileRelErr, y.QuantileRelErr
	x.QuantileRelErr, y.QuantileRelErr = nil, nil
	return reflect.DeepEqual(x, y) && reflect.DeepEqual(qa, qb)
}

// digestsCalled is a speed reader that closes called[view] at the first
// HourDigests of a view.
type digestsCalled struct {
	reconcile.SpeedReader
	mu     sync.Mutex
	called map[string]chan struct{}
}

func (d *digestsCalled) HourDigests(ctx context.Context, view string, from, to int64) ([]flight.HourDigest, error) {
	d.mu.Lock()
	if ch := d.called[view]; ch != nil {
		close(ch)
		delete(d.called, view)
	}
	d.mu.Unlock()
	return d.SpeedReader.HourDigests(ctx, view, from, to)
}

// TestRunReadsDigestsDuringTheLoad: with the first hour known (or a
// previous boundary), a view's speed digests are read while the batch view
// loads, not after; unknown, they can only be read after.
func TestRunReadsDigestsDuringTheLoad(t *testing.T) {
	ctx := context.Background()
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix+":*") })
	rng := rand.New(rand.NewPCG(11, 12))
	var evs []flight.Event
	for range 2000 {
		evs = append(evs, event(rng, []string{"ATL", "BOS"}, []string{"DEN", "SEA"}, 30, hour0))
	}
	boundary := int64(hour0 + 28*3600)
	publish(t, rdb, prefix, evs, boundary)
	flushSpeed(t, rdb, prefix, evs)
	for _, tc := range []struct {
		name        string
		prev, first int64
		during      bool
	}{
		{"first hour known", 0, firstHour(evs), true},
		{"previous boundary", hour0 + 10*3600, 0, true},
		{"first hour unknown", 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			speed := &digestsCalled{SpeedReader: store.NewReader(rdb, prefix, partitions), called: map[string]chan struct{}{}}
			chans := map[string]chan struct{}{}
			for _, v := range flight.Views() {
				chans[v.Name] = make(chan struct{})
				speed.called[v.Name] = chans[v.Name]
			}
			loads := 0
			load := func(ctx context.Context, rdb redis.Cmdable, m view.Manifest, names ...string) (*view.View, error) {
				loads++
				select {
				case <-chans[names[0]]:
					if !tc.during {
						t.Errorf("%s: digests read before the first hour was known", names[0])
					}
				case <-time.After(2 * time.Second):
					if tc.during {
						t.Errorf("%s: the digests were not read while the view loaded", names[0])
					}
				}
				return view.LoadViews(ctx, rdb, m, names...)
			}
			cfg := reconcile.WithLoader(reconcile.Config{Redis: rdb, KeyPrefix: prefix, Speed: speed,
				Version: 1, PrevBoundary: tc.prev, FirstHour: tc.first, Grace: time.Hour}, load)
			rep, err := reconcile.Run(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if rep.CountMismatches != 0 || rep.Buckets == 0 || loads != len(flight.Views()) {
				t.Fatalf("report %+v after %d loads", *rep, loads)
			}
		})
	}
}
