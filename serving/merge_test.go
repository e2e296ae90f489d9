package serving

import (
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
