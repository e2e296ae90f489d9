package flight

import (
	"math/rand/v2"
	"testing"
)

func TestSketchBinsAreOrderedAndAccurate(t *testing.T) {
	prev := SketchBin(MinDelay)
	for d := int32(MinDelay); d <= MaxDelay; d++ {
		b := SketchBin(d)
		if b < prev {
			t.Fatalf("bin of %d (%d) < bin of %d (%d): bins must follow delay order", d, b, d-1, prev)
		}
		prev = b
		if !WithinSketchBound(SketchBinValue(b), d) {
			t.Fatalf("delay %d: bin %d value %v is not within α", d, b, SketchBinValue(b))
		}
	}
	if SketchBinValue(SketchBin(0)) != 0 {
		t.Fatal("0 must come out exactly 0")
	}
}

func TestSketchQuantilesWithinBoundOfHistogram(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	qs := append(Percentiles(), 0, 0.01, 1)
	for trial := 0; trial < 200; trial++ {
		var a, b DelaySketch
		var h Histogram
		n := 1 + r.IntN(2000)
		for i := 0; i < n; i++ {
			var d int32
			switch r.IntN(4) {
			case 0:
				d = 0
			case 1:
				d = int32(r.IntN(30)) - 15
			default:
				d = int32(r.NormFloat64()*80) + int32(r.IntN(3))
			}
			h.Add(d)
			if i%2 == 0 {
				a.Add(d)
			} else {
				b.Add(d)
			}
		}
		a.Merge(&b) // merged halves must answer like the whole
		got, ok := a.Quantiles(qs...)
		want, _ := h.Quantiles(qs...)
		if !ok || a.Count() != h.Count() {
			t.Fatalf("count %d, want %d", a.Count(), h.Count())
		}
		for i := range qs {
			if !WithinSketchBound(got[i], want[i]) {
				t.Fatalf("trial %d q=%v: sketch %v, exact %d: outside α=%v", trial, qs[i], got[i], want[i], SketchRelativeAccuracy)
			}
		}
	}
}

func TestPercentileName(t *testing.T) {
	for q, want := range map[float64]string{0.5: "p50", 0.95: "p95", 0.99: "p99", 0.999: "p99.9"} {
		if got := PercentileName(q); got != want {
			t.Errorf("PercentileName(%v) = %q, want %q", q, got, want)
		}
	}
}
