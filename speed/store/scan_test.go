package store_test

import (
	"context"
	"maps"
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

// scanned is one bucket as expected or as ScanHours handed it over.
type scanned struct {
	stats flight.Stats
	bins  []flight.Bin
	dests []string
}

type bucketAt struct {
	view, group string
	hour        int64
}

// TestScanHoursReadsEveryBucketExactly: random events (several origins and
// destinations, many per bucket, delays of both signs) flushed by the speed
// layer's writer over 100 hours, each origin by its partition (3); ScanHours over sub-ranges that cut its
// round trips in the middle hands over every bucket of those hours once,
// hours in increasing order, with the stats, sketch bins and destinations
// computed here from the events themselves.
func TestScanHoursReadsEveryBucketExactly(t *testing.T) {
	ctx := context.Background()
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	keys := keyspace.New(prefix)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, keys.Base()+"*") })
	h0 := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	const hours = 100
	evs := randomEvents(rand.New(rand.NewPCG(12, 34)), h0, hours, 5000)
	// The expectation, from the events.
	want := map[bucketAt]*scanned{}
	for k, x := range exactBuckets(evs) {
		want[k] = &scanned{stats: x.stats, bins: binsOf(&x.sketch), dests: x.dests}
	}

	// Each partition flushes its origins' events into its own hashes.
	const partitions = 3
	used := map[int]bool{}
	for _, e := range evs {
		used[flight.Partition(e.Origin, partitions)] = true
	}
	if len(used) < 2 {
		t.Fatal("the events fall in one partition: the test would not read several")
	}
	storetest.Flush(t, rdb, prefix, partitions, evs)

	r := store.NewReader(rdb, prefix, partitions)
	for _, tc := range []struct {
		name     string
		from, to int64 // hours after h0
	}{
		{"every hour", 0, hours},
		{"across round trips", 7, 71},
		{"one hour", 50, 51},
		{"beyond the data", hours, hours + 40},
	} {
		for _, v := range flight.Views() {
			t.Run(tc.name+"/"+v.Name, func(t *testing.T) {
				got := map[bucketAt]scanned{}
				last := int64(0)
				err := r.ScanHours(ctx, v.Name, h0+tc.from*3600, h0+tc.to*3600, func(hour int64, group string, b *flight.SketchedBucket) error {
					if hour < last {
						t.Fatalf("hour %d after %d", hour, last)
					}
					last = hour
					k := bucketAt{v.Name, group, hour}
					if _, dup := got[k]; dup {
						t.Fatalf("bucket %v handed over twice", k)
					}
					// Copies: b's slices are reused.
					got[k] = scanned{stats: b.Stats, bins: slices.Clone(b.Bins), dests: slices.Clone(b.Dests)}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, k := range slices.SortedFunc(maps.Keys(want), func(a, b bucketAt) int { return int(a.hour - b.hour) }) {
					if k.view != v.Name || k.hour < h0+tc.from*3600 || k.hour >= h0+tc.to*3600 {
						continue
					}
					n++
					g, ok := got[k]
					w := want[k]
					if !ok || g.stats != w.stats || !slices.Equal(g.bins, w.bins) || !slices.Equal(g.dests, w.dests) {
						t.Fatalf("bucket %v: got %+v (present %v), want %+v", k, g, ok, *w)
					}
				}
				if n != len(got) {
					t.Fatalf("%d buckets handed over, want %d", len(got), n)
				}
				if tc.from < hours && n == 0 {
					t.Fatal("no bucket expected: the test checks nothing")
				}
			})
		}
	}
	if err := r.ScanHours(ctx, "no_such_view", h0, h0+3600, nil); err == nil {
		t.Fatal("ScanHours of an unknown view: no error")
	}
}

// randomEvents are n events of random origins and destinations (seven
// airports) and delays of both signs in the hours [h0, h0+hours).
func randomEvents(rng *rand.Rand, h0, hours int64, n int) []flight.Event {
	airports := []string{"ATL", "BOS", "DEN", "JFK", "LAX", "ORD", "SEA"}
	evs := make([]flight.Event, 0, n)
	for i := range n {
		evs = append(evs, flight.Event{ID: "x", Seq: uint64(i + 1), Producer: "p",
			Time:   (h0 + rng.Int64N(hours*3600)) * 1e6,
			Origin: airports[rng.IntN(len(airports))], Destination: airports[rng.IntN(len(airports))],
			Delay: int32(rng.IntN(400) - 60), Distance: 1})
	}
	return evs
}

// exactBucket is one bucket computed from the events themselves: its stats,
// sketch and, for views that count them, its destinations sorted.
type exactBucket struct {
	stats  flight.Stats
	sketch flight.DelaySketch
	dests  []string
}

// exactBuckets are the buckets of every view that evs make.
func exactBuckets(evs []flight.Event) map[bucketAt]*exactBucket {
	out := map[bucketAt]*exactBucket{}
	for _, v := range flight.Views() {
		for i := range evs {
			e := &evs[i]
			k := bucketAt{v.Name, v.Key(e), e.Time / 1e6 / 3600 * 3600}
			if out[k] == nil {
				out[k] = &exactBucket{}
			}
			out[k].stats.Add(e.Delay)
			out[k].sketch.Add(e.Delay)
			if v.DistinctDestinations && !slices.Contains(out[k].dests, e.Destination) {
				out[k].dests = append(out[k].dests, e.Destination)
			}
		}
	}
	for _, x := range out {
		slices.Sort(x.dests)
	}
	return out
}
