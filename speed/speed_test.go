package speed_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tributary-dev/tributary/flight"
)

// TestExactViewsTwoWorkers replays the first 200,000 flights, then 20,000 of
// them again (a producer retry: same seqs), with two in-process workers, and
// compares every bucket with the values computed straight from the data set.
func TestExactViewsTwoWorkers(t *testing.T) {
	e := newEnv(t)
	_, m1 := e.inProcess("w1")
	_, m2 := e.inProcess("w2")
	r1 := e.publish(0, rows)
	r2 := e.publish(0, 20_000)
	exp, events := expected(t, e.data, rows)
	e.waitCommitted(totalMessages(r1, r2), 3*time.Minute)
	e.checkViews(exp)
	dups, late, _ := e.checkTotals(events)
	if dups != r2.Events || late != 0 {
		t.Errorf("duplicates %d (want %d), late %d (want 0)", dups, r2.Events, late)
	}
	// The metrics count committed work only, so they add up exactly too.
	applied := testutil.ToFloat64(m1.Applied) + testutil.ToFloat64(m2.Applied)
	mdups := testutil.ToFloat64(m1.Duplicates) + testutil.ToFloat64(m2.Duplicates)
	owned := testutil.ToFloat64(m1.Owned) + testutil.ToFloat64(m2.Owned)
	if applied != float64(events) || mdups != float64(r2.Events) || owned != float64(e.streams.Partitions) {
		t.Errorf("metrics: applied %v (want %d), duplicates %v (want %d), partitions owned %v (want %d)",
			applied, events, mdups, r2.Events, owned, e.streams.Partitions)
	}

	// A range query merges hours: stats add up, distinct is a union.
	ctx := context.Background()
	var first, last int64 = 1 << 62, 0
	for r := range exp {
		first, last = min(first, r.hour), max(last, r.hour)
	}
	for _, origin := range []string{"ATL", "ORD", "DFW"} {
		var s flight.Stats
		var h flight.Histogram
		dests := map[string]struct{}{}
		for r, w := range exp {
			if r.view == "airport_hour" && r.group == origin {
				s.Merge(w.stats)
				h.Merge(&w.hist)
				for d := range w.dests {
					dests[d] = struct{}{}
				}
			}
		}
		got, err := e.reader.SumDistinct(ctx, "airport_hour", origin, first, last+3600, nil)
		if err != nil {
			t.Fatal(err)
		}
		exact, _ := h.Quantiles(flight.Percentiles()...)
		if got.Stats != s || !distinctOK(got.Distinct, len(dests)) {
			t.Errorf("range %s: %+v distinct %d, want %+v distinct %d", origin, got.Stats, got.Distinct, s, len(dests))
		}
		qs, _ := got.Sketch.Quantiles(flight.Percentiles()...)
		for i, q := range qs {
			if !flight.WithinSketchBound(q, exact[i]) {
				t.Errorf("range %s %s: %v, exact %d", origin, flight.PercentileName(flight.Percentiles()[i]), q, exact[i])
			}
		}
	}
}
