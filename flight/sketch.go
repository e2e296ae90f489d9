package flight

import (
	"fmt"
	"math"

	"github.com/DataDog/sketches-go/ddsketch/mapping"
)

// SketchRelativeAccuracy is α, the relative-error bound of the speed layer's
// delay percentiles: a quantile q read from a DelaySketch is within α·|v| of
// v, the exact nearest-rank quantile (flight.Histogram's answer). A true 0
// comes out exactly 0 (zero has its own bin). 1% costs at most ~750 bins per
// bucket over the widest valid delay range and usually a few dozen.
const SketchRelativeAccuracy = 0.01

// Percentiles returns the quantiles that the views serve, in a fixed order.
// Both layers compute these: the speed layer through a DelaySketch, the batch
// layer exactly through a Histogram.
func Percentiles() []float64 { return []float64{0.5, 0.95, 0.99} }

// PercentileName names quantile q for storage and APIs ("p50", "p95", "p99", "p99.9").
func PercentileName(q float64) string {
	return "p" + trimFloat(q*100)
}

func trimFloat(f float64) string {
	s := fmt.Sprintf("%.4f", f)
	for s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	if s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	return s
}

// sketchMapping is DDSketch's exact logarithmic index mapping for α. It is
// immutable: the value is computed once and only read.
var sketchMapping = func() *mapping.LogarithmicMapping {
	m, err := mapping.NewLogarithmicMapping(SketchRelativeAccuracy)
	if err != nil {
		panic(err) // α is a valid constant: cannot happen
	}
	return m
}()

// SketchBin returns the bin of a delay in a DelaySketch. Bins are ordered like
// the delays they hold: bin 0 holds exactly 0, bin k > 0 holds the positive
// delays of DDSketch index k-1, bin -k their negatives. Delays are whole
// minutes, so |delay| >= 1 and every index is >= 0.
func SketchBin(delay int32) int32 {
	switch {
	case delay == 0:
		return 0
	case delay > 0:
		return int32(sketchMapping.Index(float64(delay))) + 1
	default:
		return -int32(sketchMapping.Index(float64(-delay))) - 1
	}
}

// SketchBinValue returns the value that represents a bin: within α of every
// delay that the bin holds.
func SketchBinValue(bin int32) float64 {
	switch {
	case bin == 0:
		return 0
	case bin > 0:
		return sketchMapping.Value(int(bin - 1))
	default:
		return -sketchMapping.Value(int(-bin - 1))
	}
}

// DelaySketch is a DDSketch of delays with relative accuracy
// SketchRelativeAccuracy, kept as plain bin counts so that it merges by adding
// counts: the speed layer stores the bins in Redis hashes and adds them with
// HINCRBY. The zero value is empty and ready to use.
type DelaySketch struct {
	bins map[int32]int64
	n    int64
}

// Add counts one delay.
func (s *DelaySketch) Add(delay int32) { s.AddBin(SketchBin(delay), 1) }

// AddBin adds n to a bin's count (merging stored bins).
func (s *DelaySketch) AddBin(bin int32, n int64) {
	if n == 0 {
		return
	}
	if s.bins == nil {
		s.bins = make(map[int32]int64)
	}
	s.bins[bin] += n
	s.n += n
}

// Merge adds o into s.
func (s *DelaySketch) Merge(o *DelaySketch) {
	for b, c := range o.bins {
		s.AddBin(b, c)
	}
}

// Count is the number of delays counted.
func (s *DelaySketch) Count() int64 { return s.n }

// Len is the number of non-empty bins.
func (s *DelaySketch) Len() int { return len(s.bins) }

// Each calls fn for every non-empty bin in increasing order of value.
func (s *DelaySketch) Each(fn func(bin int32, count int64)) { eachSorted(s.bins, fn) }

// Quantiles returns the value of the bin holding the nearest-rank quantile of
// every q (the same rank as Histogram.Quantiles), so each result is within
// SketchRelativeAccuracy of the exact quantile. ok is false when empty.
func (s *DelaySketch) Quantiles(qs ...float64) (out []float64, ok bool) {
	if s.n == 0 {
		return nil, false
	}
	bins := rankKeys(s.bins, s.n, qs)
	out = make([]float64, len(bins))
	for i, b := range bins {
		out[i] = SketchBinValue(b)
	}
	return out, true
}

// WithinSketchBound says whether got is within the sketch's documented bound
// of the exact value want (plus float rounding).
func WithinSketchBound(got float64, want int32) bool {
	return math.Abs(got-float64(want)) <= SketchRelativeAccuracy*math.Abs(float64(want))+1e-9
}
