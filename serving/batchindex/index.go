package batchindex

import (
	"fmt"
	"math/bits"
	"slices"
	"sort"
	"sync"

	"github.com/tributary-dev/tributary/batch/view"
	"github.com/tributary-dev/tributary/flight"
)

// levels are the spans of the aggregates kept, finest first: an hour, a
// day, 16 days (all aligned on the Unix epoch, so on UTC days).
var levels = [...]int64{3600, 24 * 3600, 16 * 24 * 3600}

// Index is one version of the batch view. It is immutable and safe for
// concurrent use.
type Index struct {
	boundary   int64
	first, end int64
	delays     []int32  // the dictionary of delays, increasing
	bins       []int32  // the sketch bin of each delay (flight.SketchBin)
	dests      []string // the dictionary of destinations, increasing
	words      int      // uint64 words of a destination bitset
	views      map[string]*viewIndex
	scratch    sync.Pool // *Agg
}

type viewIndex struct {
	distinct bool
	names    []string // sorted
	groups   map[string]*group
}

// group holds one group's aggregates at every level, and over its whole
// span before the boundary.
type group struct {
	lv [len(levels)]level
	// whole is one aggregate of every hour of lv[0] before the boundary,
	// [wholeFrom, wholeTo): a range that covers it (a query over all the
	// data) merges it alone instead of a block per 16 days and its edges.
	// Empty when the group has no hour before the boundary.
	whole              level
	wholeFrom, wholeTo int64
}

// level is a run of aggregates of one span, by increasing start.
type level struct {
	at  []int64  // starts (Unix seconds)
	off []uint32 // len(at)+1: entries of aggregate i are ent[off[i]:off[i+1]]
	ent []uint64 // delay index << 32 | count
	dst []uint64 // len(at)*words destination bitsets (views that count them)
}

// Build indexes a loaded view. It reads the view once to make the
// dictionaries, then once per group, and releases each view's tables once it
// has indexed them (view.View.Release): v is spent afterwards.
func Build(v *view.View) (*Index, error) {
	ix := &Index{boundary: v.Boundary, views: map[string]*viewIndex{}}
	ix.scratch.New = func() any { return ix.newAgg() }
	defs := flight.Views()
	var err error
	if ix.delays, ix.dests, err = dictionaries(v, defs); err != nil {
		return nil, err
	}
	ix.words = (len(ix.dests) + 63) / 64
	ix.bins = make([]int32, len(ix.delays))
	for i, d := range ix.delays {
		ix.bins[i] = flight.SketchBin(d)
	}
	delayIdx := make(map[int32]uint32, len(ix.delays))
	for i, d := range ix.delays {
		delayIdx[d] = uint32(i)
	}
	destIdx := make(map[string]int, len(ix.dests))
	for i, s := range ix.dests {
		destIdx[s] = i
	}

	b := &builder{ix: ix, counts: make([]int64, len(ix.delays))}
	for vi, d := range defs {
		gs, _ := v.Groups(d.Name)
		vx := &viewIndex{distinct: d.DistinctDestinations, names: gs, groups: make(map[string]*group, len(gs))}
		ix.views[d.Name] = vx
		for _, name := range gs {
			g := &group{}
			b.reset(vx.distinct)
			_ = v.Rows(d.Name, name, func(h int64, t *view.Table, r int) {
				b.hour(h)
				t.Hist(r, func(delay int32, n int64) { b.counts[delayIdx[delay]] += n })
				if vx.distinct {
					for j := 0; j < t.NumDests(r); j++ {
						i := destIdx[t.Dest(r, j)]
						b.dst[i/64] |= 1 << (i % 64)
					}
				}
			})
			b.hour(-1)
			g.lv[0] = b.out
			// Coarser levels merge the finer one's aggregates.
			for l := 1; l < len(levels); l++ {
				g.lv[l] = b.coarsen(&g.lv[l-1], levels[l], vx.distinct)
			}
			g.whole, g.wholeFrom, g.wholeTo = b.total(&g.lv[0], ix.boundary, vx.distinct)
			vx.groups[name] = g
			if vi == 0 && len(g.lv[0].at) > 0 {
				// The first view holds every flight: its span is the data's.
				first, end := g.lv[0].at[0], g.lv[0].at[len(g.lv[0].at)-1]+3600
				if ix.end == 0 || first < ix.first {
					ix.first = first
				}
				ix.end = max(ix.end, end)
			}
		}
		// Its tables are not read again: they can go while the next view
		// is indexed (serve's peak memory is a loaded version plus its index).
		v.Release(d.Name)
	}
	if len(ix.views) == 0 {
		return nil, fmt.Errorf("batchindex: no views")
	}
	return ix, nil
}

// dictionaries are the sorted distinct delays and destinations of every
// group of v: the index stores histograms against the first and destination
// sets as bitsets over the second.
func dictionaries(v *view.View, defs []flight.View) (delays []int32, dests []string, err error) {
	delaySet := map[int32]struct{}{}
	destSet := map[string]struct{}{}
	for _, d := range defs {
		gs, err := v.Groups(d.Name)
		if err != nil {
			return nil, nil, err
		}
		for _, g := range gs {
			err := v.Rows(d.Name, g, func(_ int64, t *view.Table, r int) {
				t.Hist(r, func(delay int32, _ int64) { delaySet[delay] = struct{}{} })
				if d.DistinctDestinations {
					for j := 0; j < t.NumDests(r); j++ {
						if s := t.Dest(r, j); !has(destSet, s) {
							destSet[string([]byte(s))] = struct{}{} // own copy: s points into an Arrow buffer
						}
					}
				}
			})
			if err != nil {
				return nil, nil, err
			}
		}
	}
	for d := range delaySet {
		delays = append(delays, d)
	}
	slices.Sort(delays)
	for s := range destSet {
		dests = append(dests, s)
	}
	slices.Sort(dests)
	return delays, dests, nil
}

func has(m map[string]struct{}, s string) bool { _, ok := m[s]; return ok }

// builder accumulates one aggregate at a time in a dense histogram.
type builder struct {
	ix       *Index
	counts   []int64
	dst      []uint64
	cur      int64 // start of the aggregate being built, -1: none
	out      level
	distinct bool
}

func (b *builder) reset(distinct bool) {
	b.out, b.cur, b.distinct = level{off: []uint32{0}}, -1, distinct
	b.dst = make([]uint64, b.ix.words)
}

// hour starts the aggregate of hour h (-1: none), closing the current one.
func (b *builder) hour(h int64) {
	if h == b.cur {
		return
	}
	if b.cur >= 0 {
		b.emit(&b.out, b.cur)
	}
	b.cur = h
}

// emit appends the dense histogram and bitset as an aggregate starting at
// at, and clears them.
func (b *builder) emit(l *level, at int64) {
	l.at = append(l.at, at)
	for i, c := range b.counts {
		if c != 0 {
			l.ent = append(l.ent, uint64(i)<<32|uint64(c))
			b.counts[i] = 0
		}
	}
	l.off = append(l.off, uint32(len(l.ent)))
	if b.distinct {
		l.dst = append(l.dst, b.dst...)
		clear(b.dst)
	}
}

// coarsen merges a level's aggregates into spans of size.
func (b *builder) coarsen(fine *level, size int64, distinct bool) level {
	out := level{off: []uint32{0}}
	cur := int64(-1)
	for i, at := range fine.at {
		s := at / size * size
		if s != cur && cur >= 0 {
			b.emit(&out, cur)
		}
		cur = s
		for _, e := range fine.ent[fine.off[i]:fine.off[i+1]] {
			b.counts[e>>32] += int64(uint32(e))
		}
		if distinct {
			for w := 0; w < b.ix.words; w++ {
				b.dst[w] |= fine.dst[i*b.ix.words+w]
			}
		}
	}
	if cur >= 0 {
		b.emit(&out, cur)
	}
	out.at, out.off, out.ent, out.dst = slices.Clip(out.at), slices.Clip(out.off), slices.Clip(out.ent), slices.Clip(out.dst)
	return out
}

// total merges a level's aggregates that start before end into one, and
// returns the span it covers: from its first start to the end of the last
// one merged ([0, 0) and no aggregate when none starts before end).
func (b *builder) total(fine *level, end int64, distinct bool) (level, int64, int64) {
	n := sort.Search(len(fine.at), func(i int) bool { return fine.at[i] >= end })
	if n == 0 {
		return level{}, 0, 0
	}
	for _, e := range fine.ent[:fine.off[n]] {
		b.counts[e>>32] += int64(uint32(e))
	}
	if distinct {
		for i := range n {
			for w := 0; w < b.ix.words; w++ {
				b.dst[w] |= fine.dst[i*b.ix.words+w]
			}
		}
	}
	out := level{off: []uint32{0}}
	b.emit(&out, fine.at[0])
	out.at, out.off, out.ent, out.dst = slices.Clip(out.at), slices.Clip(out.off), slices.Clip(out.ent), slices.Clip(out.dst)
	return out, fine.at[0], fine.at[n-1] + levels[0]
}

// Boundary is the Unix second of the first hour the version does not cover.
func (ix *Index) Boundary() int64 { return ix.boundary }

// Span is the hours that hold data, [first, end).
func (ix *Index) Span() (first, end int64) { return ix.first, ix.end }

// Groups lists a view's groups, sorted; nil for an unknown view.
func (ix *Index) Groups(view string) []string {
	if vx := ix.views[view]; vx != nil {
		return vx.names
	}
	return nil
}

// Range merges a group's aggregates over the hours [from, to) into an Agg,
// which the caller must Release. A group or view without data gives an
// empty Agg.
func (ix *Index) Range(view, group string, from, to int64) *Agg {
	a := ix.scratch.Get().(*Agg)
	vx := ix.views[view]
	if vx == nil {
		return a
	}
	a.distinct = vx.distinct
	to = min(to, ix.boundary)
	g := vx.groups[group]
	switch {
	case g == nil || from >= to:
	case len(g.whole.at) > 0 && from <= g.wholeFrom && to >= g.wholeTo:
		// Every hour the group has before the boundary: one aggregate.
		g.whole.merge(a, 0, ix.words)
	default:
		g.add(a, len(levels)-1, from, to, ix.words)
	}
	return a
}

// merge adds the level's aggregate i into a.
func (lv *level) merge(a *Agg, i, words int) {
	for _, e := range lv.ent[lv.off[i]:lv.off[i+1]] {
		a.counts[e>>32] += int64(uint32(e))
	}
	if a.distinct {
		for w, x := range lv.dst[i*words : (i+1)*words] {
			a.dst[w] |= x
		}
	}
}

// add merges the aggregates of level l and finer over [from, to): whole
// spans of level l in the middle, the finer levels for the edges.
func (g *group) add(a *Agg, l int, from, to int64, words int) {
	if from >= to {
		return
	}
	if l > 0 {
		size := levels[l]
		lo, hi := (from+size-1)/size*size, to/size*size
		if lo >= hi {
			g.add(a, l-1, from, to, words)
			return
		}
		g.add(a, l-1, from, lo, words)
		g.add(a, l-1, hi, to, words)
		from, to = lo, hi
	}
	lv := &g.lv[l]
	i := sort.Search(len(lv.at), func(i int) bool { return lv.at[i] >= from })
	for ; i < len(lv.at) && lv.at[i] < to; i++ {
		lv.merge(a, i, words)
	}
}

// Agg is a group's exact aggregate over a range: a dense histogram over the
// version's dictionary of delays and a bitset of destinations.
type Agg struct {
	ix       *Index
	counts   []int64
	dst      []uint64
	distinct bool
}

func (ix *Index) newAgg() *Agg {
	return &Agg{ix: ix, counts: make([]int64, len(ix.delays)), dst: make([]uint64, ix.words)}
}

// Release gives the Agg back for reuse; it must not be used afterwards.
func (a *Agg) Release() {
	clear(a.counts)
	clear(a.dst)
	a.distinct = false
	a.ix.scratch.Put(a)
}

// Stats are the exact statistics of the flights, from the histogram.
func (a *Agg) Stats() flight.Stats {
	var s flight.Stats
	for i, c := range a.counts {
		if c == 0 {
			continue
		}
		d := a.ix.delays[i]
		if s.Count == 0 {
			s.Min = d
		}
		s.Max = d
		s.Count += c
		s.Sum += int64(d) * c
		if d >= flight.DelayedMinutes {
			s.Delayed += c
		}
	}
	return s
}

// Each calls fn for every delay with flights, increasing.
func (a *Agg) Each(fn func(delay int32, count int64)) {
	for i, c := range a.counts {
		if c != 0 {
			fn(a.ix.delays[i], c)
		}
	}
}

// EachBin calls fn for every delay with flights, increasing, with its
// sketch bin (flight.SketchBin) rather than the delay: what joining the
// histogram with a speed sketch needs, without a logarithm per delay.
func (a *Agg) EachBin(fn func(bin int32, count int64)) {
	for i, c := range a.counts {
		if c != 0 {
			fn(a.ix.bins[i], c)
		}
	}
}

// Quantiles are the exact nearest-rank quantiles, as flight.Histogram's;
// ok is false without flights.
func (a *Agg) Quantiles(qs ...float64) ([]int32, bool) {
	var n int64
	for _, c := range a.counts {
		n += c
	}
	if n == 0 {
		return nil, false
	}
	out := make([]int32, len(qs))
	ranks := make([]int64, len(qs))
	for i, q := range qs {
		ranks[i] = flight.Rank(q, n)
	}
	var seen int64
	for i, c := range a.counts {
		if c == 0 {
			continue
		}
		before := seen
		seen += c
		for j, r := range ranks {
			if r > before && r <= seen {
				out[j] = a.ix.delays[i]
			}
		}
	}
	return out, true
}

// Distinct reports whether the view counts destinations.
func (a *Agg) Distinct() bool { return a.distinct }

// Len is the number of distinct destinations.
func (a *Agg) Len() int {
	n := 0
	for _, w := range a.dst {
		n += bits.OnesCount64(w)
	}
	return n
}

// EachDestination calls fn for every destination, in increasing order.
func (a *Agg) EachDestination(fn func(string)) {
	for w, x := range a.dst {
		for x != 0 {
			b := bits.TrailingZeros64(x)
			fn(a.ix.dests[w*64+b])
			x &^= 1 << b
		}
	}
}
