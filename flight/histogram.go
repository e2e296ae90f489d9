package flight

import (
	"maps"
	"slices"
)

// Histogram counts flights per whole-minute delay. Delays are integers, so it
// gives exact nearest-rank quantiles and merges exactly; the batch layer keeps
// one per bucket. The zero value is empty and ready to use.
type Histogram struct {
	counts map[int32]int64
	n      int64
}

// Add counts one flight with the given delay.
func (h *Histogram) Add(delay int32) { h.AddN(delay, 1) }

// AddN counts n flights with the given delay.
func (h *Histogram) AddN(delay int32, n int64) {
	if n == 0 {
		return
	}
	if h.counts == nil {
		h.counts = make(map[int32]int64)
	}
	h.counts[delay] += n
	h.n += n
}

// Merge adds o into h.
func (h *Histogram) Merge(o *Histogram) {
	for d, c := range o.counts {
		h.AddN(d, c)
	}
}

// Count is the number of flights counted.
func (h *Histogram) Count() int64 { return h.n }

// Each calls fn for every delay with a non-zero count, in increasing delay order.
func (h *Histogram) Each(fn func(delay int32, count int64)) { eachSorted(h.counts, fn) }

// Quantiles returns the nearest-rank quantile of every q (each in [0,1]), in
// one pass: the smallest delay d such that at least ceil(q*n) flights have a
// delay <= d. ok is false when the histogram is empty.
func (h *Histogram) Quantiles(qs ...float64) (out []int32, ok bool) {
	if h.n == 0 {
		return nil, false
	}
	return rankKeys(h.counts, h.n, qs), true
}

// eachSorted calls fn for every key of counts in increasing order: the walk
// both the exact histogram and the sketch's bins need.
func eachSorted(counts map[int32]int64, fn func(k int32, c int64)) {
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		fn(k, counts[k])
	}
}

// rankKeys returns, for every q, the smallest key whose cumulative count
// reaches the nearest rank Rank(q, n): one sorted walk for all quantiles.
func rankKeys(counts map[int32]int64, n int64, qs []float64) []int32 {
	out := make([]int32, len(qs))
	ranks := make([]int64, len(qs))
	for i, q := range qs {
		ranks[i] = Rank(q, n)
	}
	var seen int64
	eachSorted(counts, func(k int32, c int64) {
		before := seen
		seen += c
		for i, r := range ranks {
			if r > before && r <= seen {
				out[i] = k
			}
		}
	})
	return out
}
