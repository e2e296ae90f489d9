package batchindex_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/batch/partial"
	"github.com/tributary-dev/tributary/batch/view"
	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/serving/batchindex"
)

type event struct {
	at          int64 // Unix seconds
	origin, dst string
	delay       int32
}

// TestRangeIsExact builds a version of two nodes (buckets split over both)
// from random flights over ~40 days, indexes it, and compares every answer
// with one computed from the flights themselves: ranges inside an hour,
// across day and 16-day edges, without bounds (the whole span, which one
// aggregate answers), one hour short of it, and far past the data.
func TestRangeIsExact(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix+":*") })
	ctx := t.Context()

	const start = 978307200 // 2001-01-01
	r := rand.New(rand.NewPCG(1, 2))
	codes := []string{"ATL", "ORD", "DFW", "LAX", "SFO"}
	var evs []event
	nodes := []*partial.Builder{partial.NewBuilder(flight.Views()), partial.NewBuilder(flight.Views())}
	for i := 0; i < 20_000; i++ {
		e := event{at: start + r.Int64N(40*24*3600), origin: codes[r.IntN(3)], dst: codes[r.IntN(len(codes))],
			delay: int32(r.IntN(300) - 60)}
		if r.IntN(100) == 0 {
			e.delay = int32(r.IntN(2000) - 1000)
		}
		evs = append(evs, e)
		nodes[r.IntN(2)].Add(e.at*1_000_000, e.origin, e.dst, e.delay)
	}
	boundary := int64(start + 38*24*3600 + 5*3600) // the last flights are past it
	m := view.Manifest{Version: 1, Boundary: boundary, PublishedAt: time.Now()}
	for i, b := range nodes {
		body, err := b.Encode()
		if err != nil {
			t.Fatal(err)
		}
		k := fmt.Sprintf("%s:node:%d", prefix, i)
		if err := rdb.Set(ctx, k, body, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		m.Nodes = append(m.Nodes, k)
	}
	v, err := view.LoadManifest(ctx, rdb, m)
	if err != nil {
		t.Fatal(err)
	}
	built := time.Now()
	ix, err := batchindex.Build(v)
	t.Logf("built in %v", time.Since(built))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ix.Groups("airport_hour"), []string{"ATL", "DFW", "ORD"}; !slices.Equal(got, want) {
		t.Fatalf("groups %v, want %v", got, want)
	}

	ranges := [][2]int64{
		{start, start + 3600}, {start + 5*3600, start + 6*3600}, {start + 23*3600, start + 26*3600},
		{start + 3600, start + 17*24*3600 + 7*3600}, {start + 15*24*3600, start + 33*24*3600},
		{0, 1 << 40}, {start, boundary}, {boundary - 3600, boundary + 3600}, {start + 40*24*3600, start + 50*24*3600},
		// Every hour before the boundary (one aggregate), and one hour
		// short of it at either end (blocks, days and hours).
		{start - 3600, boundary + 3600}, {start + 3600, boundary}, {start, boundary - 3600},
	}
	for i := 0; i < 40; i++ {
		a := start + r.Int64N(42*24)*3600
		ranges = append(ranges, [2]int64{a, a + r.Int64N(42*24)*3600})
	}
	for _, rg := range ranges {
		for _, origin := range codes {
			for _, vw := range []string{"airport_hour", "route_hour"} {
				group := origin
				if vw == "route_hour" {
					group = origin + "-" + codes[1]
				}
				var want flight.Stats
				var hist flight.Histogram
				dests := map[string]bool{}
				for _, e := range evs {
					if e.at/3600*3600 < rg[0] || e.at/3600*3600 >= min(rg[1], boundary) || e.origin != origin ||
						(vw == "route_hour" && e.dst != codes[1]) {
						continue
					}
					want.Add(e.delay)
					hist.Add(e.delay)
					dests[e.dst] = true
				}
				// Ranges are hour-aligned: an event counts when its hour does.
				a := ix.Range(vw, group, rg[0], rg[1])
				name := fmt.Sprintf("%s %s [%d, %d)", vw, group, rg[0]-start, rg[1]-start)
				if got := a.Stats(); got != want {
					t.Errorf("%s: stats %+v, want %+v", name, got, want)
				}
				gq, gok := a.Quantiles(0.5, 0.95, 0.99)
				wq, wok := hist.Quantiles(0.5, 0.95, 0.99)
				if gok != wok || !slices.Equal(gq, wq) {
					t.Errorf("%s: quantiles %v %v, want %v %v", name, gq, gok, wq, wok)
				}
				if vw == "airport_hour" {
					var got []string
					a.EachDestination(func(s string) { got = append(got, s) })
					var exp []string
					for d := range dests {
						exp = append(exp, d)
					}
					slices.Sort(exp)
					if !slices.Equal(got, exp) || a.Len() != len(exp) {
						t.Errorf("%s: destinations %v (%d), want %v", name, got, a.Len(), exp)
					}
				}
				a.Release()
			}
		}
	}
}
