package serving

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/speed/store"
)

// TestPercentilesWithinMinMax: the sketch answers a bin's midpoint, which
// can lie past the data (one flight of 7 minutes gave p50 7.03): merged
// percentiles stay within [min, max].
func TestPercentilesWithinMinMax(t *testing.T) {
	tests := []struct {
		name   string
		speed  []int32
		batch  []int32
		lo, hi int32
	}{
		{"one flight of 7", []int32{7}, nil, 7, 7},
		{"one flight of -13", []int32{-13}, nil, -13, -13},
		{"a few near each other", []int32{7, 8, 8, 9}, nil, 7, 9},
		{"batch and speed", []int32{1688}, []int32{1687, 1688}, 1687, 1688},
		{"large negative", []int32{-1116, -1115}, []int32{-1116}, -1116, -1115},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sb store.Bucket
			for _, d := range tt.speed {
				sb.Stats.Add(d)
				sb.Sketch.Add(d)
			}
			var br BatchRange
			var h flight.Histogram
			for _, d := range tt.batch {
				br.Stats.Add(d)
				h.Add(d)
			}
			if len(tt.batch) > 0 {
				br.Hist = &h
			}
			r := merge(br, sb, false)
			if r.Stats.Min != tt.lo || r.Stats.Max != tt.hi {
				t.Fatalf("min %d max %d, want %d %d", r.Stats.Min, r.Stats.Max, tt.lo, tt.hi)
			}
			if len(r.Quantiles) != len(flight.Percentiles()) {
				t.Fatalf("%d quantiles", len(r.Quantiles))
			}
			for i, q := range r.Quantiles {
				if q < float64(tt.lo) || q > float64(tt.hi) {
					t.Errorf("p%v = %v, outside [%d, %d]", flight.Percentiles()[i]*100, q, tt.lo, tt.hi)
				}
			}
			if r.Exact {
				t.Error("an answer with a speed part is exact")
			}
		})
	}
}

// binnedHist is a flight.Histogram that gives its sketch bins itself, as
// the serving index does.
type binnedHist struct{ flight.Histogram }

func (h *binnedHist) EachBin(fn func(bin int32, count int64)) {
	h.Each(func(d int32, c int64) { fn(flight.SketchBin(d), c) })
}

// TestJoinedQuantilesAreTheJoinedSketchs: joining a batch histogram with a
// speed sketch without building the joined sketch answers exactly what the
// joined sketch does (a copy of the speed sketch with every batch delay
// added), for histograms that give their bins and those that do not.
func TestJoinedQuantilesAreTheJoinedSketchs(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	qs := []float64{0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1}
	delay := func(spread int) int32 {
		if r.IntN(50) == 0 {
			return int32(r.IntN(2800) - 1116) // the data set's extremes
		}
		return int32(r.IntN(spread) - spread/4)
	}
	for i := range 300 {
		nb, ns := r.IntN(3000), r.IntN(300)
		if i%10 == 0 {
			nb = 0
		}
		if i%10 == 1 {
			ns = 0
		}
		spread := 1 + r.IntN(400)
		var h flight.Histogram
		var sk, joined flight.DelaySketch
		for range nb {
			d := delay(spread)
			h.Add(d)
			joined.Add(d)
		}
		for range ns {
			d := delay(spread)
			sk.Add(d)
			joined.Add(d)
		}
		want, wok := joined.Quantiles(qs...)
		var hist Histogram
		if nb > 0 {
			hist = &h
		}
		for _, hh := range []Histogram{hist, &binnedHist{h}} {
			if nb == 0 && hh != nil {
				continue
			}
			before := sk.Count()
			got, ok := joinedQuantiles(hh, &sk, qs)
			if ok != wok || !slices.Equal(got, want) {
				t.Fatalf("case %d (%d batch, %d speed flights, %T): %v %v, want %v %v", i, nb, ns, hh, got, ok, want, wok)
			}
			if sk.Count() != before {
				t.Fatalf("case %d: the speed sketch changed", i)
			}
		}
	}
}
