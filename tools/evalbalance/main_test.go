package main

import (
	"testing"
	"time"

	"github.com/tributary-dev/tributary/flight"
)

func TestJain(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		want float64
	}{
		{[]float64{1, 1, 1, 1}, 1},
		{[]float64{1, 0, 0, 0}, 0.25},
		{[]float64{3, 1}, 16.0 / 20}, // (3+1)^2 / (2*(9+1))
	} {
		if got := Jain(tc.xs); got < tc.want-1e-12 || got > tc.want+1e-12 {
			t.Errorf("Jain(%v) = %v, want %v", tc.xs, got, tc.want)
		}
	}
}

func TestGapTracker(t *testing.T) {
	h := time.Hour.Microseconds()
	// Two origins; with 1 partition every event shares it.
	a, b := "AAA", "BBB"
	g := newGapTracker([]int{1})
	for _, e := range []struct {
		origin string
		at     int64
	}{{a, 1 * h}, {b, 2 * h}, {a, 9 * h}, {b, 10 * h}} {
		g.add(e.origin, e.at)
	}
	got := g.cells(6 * time.Hour)
	if len(got) != 1 || got[0].LargestGapHours != 7 || got[0].OverBound != 1 {
		t.Fatalf("cells = %+v, want one partition with a 7 h gap over the 6 h bound", got)
	}
	// Per partition: when the two origins land in different partitions of
	// 2, each partition's gap is 8 h (1 -> 9, 2 -> 10).
	if flight.Partition(a, 2) != flight.Partition(b, 2) {
		g2 := newGapTracker([]int{2})
		for _, e := range []struct {
			origin string
			at     int64
		}{{a, 1 * h}, {b, 2 * h}, {a, 9 * h}, {b, 10 * h}} {
			g2.add(e.origin, e.at)
		}
		if c := g2.cells(6 * time.Hour)[0]; c.LargestGapHours != 8 || c.OverBound != 2 {
			t.Fatalf("2 partitions: %+v, want 8 h gaps in both", c)
		}
	} else {
		t.Fatalf("test origins %s and %s share a partition of 2: pick others", a, b)
	}
}
