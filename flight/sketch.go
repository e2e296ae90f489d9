package flight

import (
	"fmt"
	"math"
	"slices"

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
	if delay > -binTableHalf && delay < binTableHalf {
		return binTable[delay+binTableHalf]
	}
	return sketchBin(delay)
}

func sketchBin(delay int32) int32 {
	switch {
	case delay == 0:
		return 0
	case delay > 0:
		return int32(sketchMapping.Index(float64(delay))) + 1
	default:
		return -int32(sketchMapping.Index(float64(-delay))) - 1
	}
}

// binTableHalf bounds the delays whose bin is looked up rather than
// computed (a logarithm): every delay of the data set but a few hundred.
const binTableHalf = 4096

// binTable holds sketchBin(d) at d+binTableHalf for |d| < binTableHalf
// (32 KiB). Like sketchMapping it is computed once and only read.
var binTable = func() []int32 {
	t := make([]int32, 2*binTableHalf)
	for d := int32(-binTableHalf + 1); d < binTableHalf; d++ {
		t[d+binTableHalf] = sketchBin(d)
	}
	return t
}()

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
// counts. The zero value is empty and ready to use.
//
// The bins are a slice kept sorted by bin: the speed layer merges and packs
// millions of sketches (one per bucket and flush), and a sorted slice merges
// in one linear walk and is packed in order with neither a map nor a sort. A
// bucket holds a few dozen bins at most of the time (~750 at the very most),
// 16 bytes each: a dense array over the bins' range would cost kilobytes per
// bucket. Copying a DelaySketch shares its bins: use Clone to change a copy.
type DelaySketch struct {
	bins []Bin // increasing Bin, each N != 0
	n    int64
}

// Add counts one delay.
func (s *DelaySketch) Add(delay int32) { s.AddBin(SketchBin(delay), 1) }

// AddBin adds n to a bin's count (merging stored bins). Adding bins in
// increasing order, as a packed sketch is read, appends.
func (s *DelaySketch) AddBin(bin int32, n int64) {
	if n == 0 {
		return
	}
	s.n += n
	l := len(s.bins)
	if l == 0 || s.bins[l-1].Bin < bin {
		s.bins = append(s.bins, Bin{Bin: bin, N: n})
		return
	}
	i := s.search(bin)
	if s.bins[i].Bin == bin {
		s.bins[i].N += n
		return
	}
	s.bins = slices.Insert(s.bins, i, Bin{Bin: bin, N: n})
}

// search returns the index of the first bin >= bin; the caller made sure
// that one exists (the last bin is >= bin).
func (s *DelaySketch) search(bin int32) int {
	lo, hi := 0, len(s.bins)-1
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.bins[m].Bin < bin {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// Merge adds o into s, in one walk of both bin lists and without allocating
// when s has the room.
func (s *DelaySketch) Merge(o *DelaySketch) {
	if len(o.bins) == 0 {
		return
	}
	s.n += o.n
	if len(s.bins) == 0 {
		s.bins = append(s.bins, o.bins...)
		return
	}
	// Count the bins of o that s lacks, grow s by that many, then merge
	// from the back so that no bin of s is overwritten before it is read.
	extra := 0
	for i, j := 0, 0; j < len(o.bins); {
		switch {
		case i == len(s.bins) || o.bins[j].Bin < s.bins[i].Bin:
			extra++
			j++
		case o.bins[j].Bin == s.bins[i].Bin:
			i++
			j++
		default:
			i++
		}
	}
	i, j := len(s.bins)-1, len(o.bins)-1
	s.bins = slices.Grow(s.bins, extra)[:len(s.bins)+extra]
	for k := len(s.bins) - 1; j >= 0; k-- {
		switch {
		case i < 0 || o.bins[j].Bin > s.bins[i].Bin:
			s.bins[k] = o.bins[j]
			j--
		case o.bins[j].Bin == s.bins[i].Bin:
			s.bins[k] = Bin{Bin: s.bins[i].Bin, N: s.bins[i].N + o.bins[j].N}
			i--
			j--
		default:
			s.bins[k] = s.bins[i]
			i--
		}
	}
}

// Clone returns a copy of s that shares nothing with it.
func (s *DelaySketch) Clone() DelaySketch {
	return DelaySketch{bins: slices.Clone(s.bins), n: s.n}
}

// Reset empties s, keeping its room for reuse.
func (s *DelaySketch) Reset() { s.bins, s.n = s.bins[:0], 0 }

// Count is the number of delays counted.
func (s *DelaySketch) Count() int64 { return s.n }

// Len is the number of non-empty bins.
func (s *DelaySketch) Len() int { return len(s.bins) }

// Each calls fn for every non-empty bin in increasing order of value.
func (s *DelaySketch) Each(fn func(bin int32, count int64)) {
	for _, b := range s.bins {
		fn(b.Bin, b.N)
	}
}

// Quantiles returns the value of the bin holding the nearest-rank quantile of
// every q (the same rank as Histogram.Quantiles), so each result is within
// SketchRelativeAccuracy of the exact quantile. ok is false when empty.
func (s *DelaySketch) Quantiles(qs ...float64) (out []float64, ok bool) {
	if s.n == 0 {
		return nil, false
	}
	out = make([]float64, len(qs))
	for i, q := range qs {
		r := Rank(q, s.n)
		var seen int64
		for _, b := range s.bins {
			seen += b.N
			if seen >= r {
				out[i] = SketchBinValue(b.Bin)
				break
			}
		}
	}
	return out, true
}

// WithinSketchBound says whether got is within the sketch's documented bound
// of the exact value want (plus float rounding).
func WithinSketchBound(got float64, want int32) bool {
	return math.Abs(got-float64(want)) <= SketchRelativeAccuracy*math.Abs(float64(want))+1e-9
}
