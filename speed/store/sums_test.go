package store_test

import (
	"cmp"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/speed/keyspace"
	"github.com/tributary-dev/tributary/speed/store"
	"github.com/tributary-dev/tributary/speed/store/storetest"
)

// TestSumsAndHourlyAgainstTheEvents: flights of several origins spread over
// four partitions and 30 hours, flushed by the speed layer's own writer;
// Sums over any hours must be each group's stats and sketch computed from
// the events themselves (groups of different partitions asked together,
// absent groups empty), Hourly each hour's, and SumDistinct the exact
// union of the destinations with an exact set.
func TestSumsAndHourlyAgainstTheEvents(t *testing.T) {
	ctx := context.Background()
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	keys := keyspace.New(prefix)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, keys.Base()+"*") })
	const parts, hours = 4, 30
	start := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	origins := []string{"ATL", "ORD", "LAX", "SFO", "DEN", "BOS", "JFK"}
	dests := []string{"MIA", "SEA", "PHX"}
	var all []flight.Event
	for h := range hours {
		for i, o := range origins {
			for k := range (h*7 + i*3) % 5 { // some hours empty for some origins
				e := flight.Event{ID: "x", Time: start.Add(time.Duration(h)*time.Hour + time.Duration(k)*time.Minute).UnixMicro(),
					Origin: o, Destination: dests[(h+k)%len(dests)], Delay: int32((h*37+i*11+k*53)%400 - 60), Distance: 1}
				all = append(all, e)
			}
		}
	}
	storetest.Flush(t, rdb, prefix, parts, all)
	r := store.NewReader(rdb, prefix, parts)
	h0 := start.Unix()
	var airportView string
	for _, v := range flight.Views() {
		if v.Dim == flight.ByAirport && v.DistinctDestinations {
			airportView = v.Name
		}
	}
	// want is the stats, sketch and destinations of origin's flights in hours [from, to).
	want := func(origin string, from, to int) (flight.Stats, flight.DelaySketch, map[string]struct{}) {
		var st flight.Stats
		var sk flight.DelaySketch
		ds := map[string]struct{}{}
		for _, e := range all {
			h := int((e.Time/1e6 - h0) / 3600)
			if e.Origin == origin && h >= from && h < to {
				st.Add(e.Delay)
				sk.Add(e.Delay)
				ds[e.Destination] = struct{}{}
			}
		}
		return st, sk, ds
	}
	groups := append(slices.Clone(origins), "XXX")
	for _, tc := range []struct{ from, to int }{{0, hours}, {3, 4}, {5, 17}, {29, 40}} {
		got, err := r.Sums(ctx, airportView, groups, h0+int64(tc.from)*3600, h0+int64(tc.to)*3600)
		if err != nil {
			t.Fatal(err)
		}
		for i, g := range groups {
			st, sk, ds := want(g, tc.from, tc.to)
			if got[i].Group != g || got[i].Stats != st || !slices.Equal(binsOf(&got[i].Sketch), binsOf(&sk)) {
				t.Fatalf("hours [%d, %d) %s: got %+v %v, want %+v %v", tc.from, tc.to, g, got[i].Stats, binsOf(&got[i].Sketch), st, binsOf(&sk))
			}
			b, err := r.SumDistinct(ctx, airportView, g, h0+int64(tc.from)*3600, h0+int64(tc.to)*3600, map[string]struct{}{"ZZZ": {}})
			if err != nil {
				t.Fatal(err)
			}
			if b.Stats != st || b.Distinct != int64(len(ds)+1) {
				t.Fatalf("hours [%d, %d) %s: SumDistinct %+v distinct %d, want %+v %d", tc.from, tc.to, g, b.Stats, b.Distinct, st, len(ds)+1)
			}
		}
	}
	hourly, err := r.Hourly(ctx, airportView, "LAX", h0, h0+hours*3600)
	if err != nil {
		t.Fatal(err)
	}
	if len(hourly) != hours {
		t.Fatalf("%d hours, want %d", len(hourly), hours)
	}
	for h, b := range hourly {
		st, sk, _ := want("LAX", h, h+1)
		if b.From != h0+int64(h)*3600 || b.Stats != st || !slices.Equal(binsOf(&b.Sketch), binsOf(&sk)) {
			t.Fatalf("hour %d: got %+v, want %+v", h, b.Stats, st)
		}
	}
}

func binsOf(s *flight.DelaySketch) []flight.Bin {
	var out []flight.Bin
	s.Each(func(b int32, n int64) { out = append(out, flight.Bin{Bin: b, N: n}) })
	return out
}

// TestBucketsAgainstTheEvents: random events of several origins (three
// partitions) over six hours, flushed by the speed layer's writer; Buckets,
// for any set of refs (one, all of both views shuffled, absent ones, the
// same twice), must hand over each ref's bucket in the order asked, with the
// stats, sketch bins, served quantiles and destination count computed here
// from the events themselves.
func TestBucketsAgainstTheEvents(t *testing.T) {
	ctx := context.Background()
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, keyspace.New(prefix).Base()+"*") })
	h0 := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	const hours = 6
	rng := rand.New(rand.NewPCG(56, 78))
	evs := randomEvents(rng, h0, hours, 2000)
	storetest.Flush(t, rdb, prefix, 3, evs)
	r := store.NewReader(rdb, prefix, 3)
	// The expectation, from the events.
	want := map[store.Ref]*exactBucket{}
	var all []store.Ref
	for k, x := range exactBuckets(evs) {
		ref := store.Ref{View: k.view, Group: k.group, Hour: k.hour}
		want[ref] = x
		all = append(all, ref)
	}
	slices.SortFunc(all, func(a, b store.Ref) int {
		return cmp.Or(cmp.Compare(a.View, b.View), cmp.Compare(a.Group, b.Group), cmp.Compare(a.Hour, b.Hour))
	})
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	views := map[string]flight.View{}
	for _, v := range flight.Views() {
		views[v.Name] = v
	}
	check := func(t *testing.T, ref store.Ref, got store.Bucket) {
		t.Helper()
		w := want[ref]
		if w == nil {
			w = &exactBucket{} // absent: an empty bucket
		}
		wantDistinct := int64(-1)
		if views[ref.View].DistinctDestinations {
			wantDistinct = int64(len(w.dests))
		}
		var wantQ []store.Quantile
		if vals, ok := w.sketch.Quantiles(flight.Percentiles()...); ok {
			for i, q := range flight.Percentiles() {
				wantQ = append(wantQ, store.Quantile{Q: q, Name: flight.PercentileName(q), Value: vals[i]})
			}
		}
		if got.View != ref.View || got.Group != ref.Group || got.From != ref.Hour || got.To != ref.Hour {
			t.Errorf("%v: bucket of %s %s [%d, %d]", ref, got.View, got.Group, got.From, got.To)
		}
		if got.Stats != w.stats || !slices.Equal(binsOf(&got.Sketch), binsOf(&w.sketch)) {
			t.Errorf("%v: %+v %v, want %+v %v", ref, got.Stats, binsOf(&got.Sketch), w.stats, binsOf(&w.sketch))
		}
		if !slices.Equal(got.Quantiles, wantQ) || got.RelativeError != flight.SketchRelativeAccuracy {
			t.Errorf("%v: quantiles %+v (error %v), want %+v", ref, got.Quantiles, got.RelativeError, wantQ)
		}
		if got.Distinct != wantDistinct {
			t.Errorf("%v: distinct %d, want %d", ref, got.Distinct, wantDistinct)
		}
	}
	route := store.Ref{View: "route_hour", Group: "ATL-BOS", Hour: h0}
	for _, tc := range []struct {
		name string
		refs []store.Ref
	}{
		{"none", nil},
		{"one", all[:1]},
		{"every bucket of every view, shuffled", all},
		{"absent", []store.Ref{{View: "airport_hour", Group: "XXX", Hour: h0},
			{View: "airport_hour", Group: "ATL", Hour: h0 + hours*3600}, {View: "route_hour", Group: "ATL-XXX", Hour: h0}}},
		{"the same twice, between others", []store.Ref{route, all[0], route, {View: "airport_hour", Group: "XXX", Hour: h0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.Buckets(ctx, tc.refs)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.refs) {
				t.Fatalf("%d buckets for %d refs", len(got), len(tc.refs))
			}
			for i, ref := range tc.refs {
				check(t, ref, got[i])
			}
		})
	}
	if want[route] == nil {
		t.Fatalf("the data has no %v: the case of a bucket read twice reads nothing", route)
	}
	if _, err := r.Buckets(ctx, []store.Ref{all[0], {View: "no_such_view", Group: "ATL", Hour: h0}}); !errors.Is(err, store.ErrUnknownView) {
		t.Fatalf("unknown view: %v, want ErrUnknownView", err)
	}
}
