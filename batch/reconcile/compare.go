package reconcile

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tributary-dev/tributary/batch/view"
	"github.com/tributary-dev/tributary/flight"
)

// chunkHours is the span of one unit of work: the speed buckets of that many
// hours of one view are read in bulk and held while the batch view's rows
// of the same hours are walked group by group. 32 hours of the route view
// are ~16,000 buckets: a few MB, whatever the range reconciled.
const chunkHours = 128

// viewCmp is what the workers share about one view: its groups, numbered.
type viewCmp struct {
	def    flight.View
	groups []string
	gid    map[string]int32
}

// job is one chunk of hours [lo, hi) of one view.
type job struct {
	vc     *viewCmp
	lo, hi int64
}

// compareAll compares every view over [from, v.Boundary) in chunks of
// hours, cfg.Parallelism chunks at once, and returns the report and, per
// view, the hours in which the speed layer has buckets (what to expire).
func compareAll(ctx context.Context, cfg Config, v *view.View, from int64) (*Report, map[string][]int64, error) {
	var jobs []job
	for _, def := range flight.Views() {
		gs, err := v.Groups(def.Name)
		if err != nil {
			return nil, nil, err
		}
		vc := &viewCmp{def: def, groups: gs, gid: make(map[string]int32, len(gs))}
		for i, g := range gs {
			vc.gid[g] = int32(i)
		}
		for lo := from; lo < v.Boundary; lo += chunkHours * 3600 {
			jobs = append(jobs, job{vc: vc, lo: lo, hi: min(lo+chunkHours*3600, v.Boundary)})
		}
	}
	n := cfg.Parallelism
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	ws := make([]*worker, min(n, max(len(jobs), 1)))
	var next atomic.Int64
	eg, ctx := errgroup.WithContext(ctx)
	for i := range ws {
		w := newWorker(v, cfg.Speed)
		ws[i] = w
		eg.Go(func() error {
			for {
				j := int(next.Add(1)) - 1
				if j >= len(jobs) {
					return nil
				}
				if err := w.job(ctx, jobs[j]); err != nil {
					return err
				}
			}
		})
	}
	if err := eg.Wait(); err != nil {
		return nil, nil, err
	}
	rep := &Report{Version: cfg.Version, From: from, To: v.Boundary, At: time.Now().UTC(), QuantileRelErr: zeroQuantileErrs()}
	hours := map[string][]int64{}
	for _, w := range ws {
		w.addTo(rep)
		for name, hs := range w.hours {
			hours[name] = append(hours[name], hs...)
		}
	}
	for _, hs := range hours {
		slices.Sort(hs)
	}
	return rep, hours, nil
}

// speedBucket is a speed bucket held for the batch walk: its stats, and its
// bins and destinations as spans of the worker's arenas.
type speedBucket struct {
	stats          flight.Stats
	sketched       int64 // the bins' total count
	bin0, bins     int32
	dest0, dests   int32
	matchedInBatch bool
}

// pair is one (delay, count) of an exact histogram.
type pair struct {
	delay int32
	n     int64
}

// row is one row of the batch view: a bucket split over nodes has several.
type row struct {
	hour int64
	t    *view.Table
	i    int
}

// worker compares chunks one after the other with buffers of its own, and
// keeps its share of the report.
type worker struct {
	v     *view.View
	speed SpeedReader
	// counts of the report, and the max errors per percentile (in
	// flight.Percentiles() order) and of distinct destinations.
	buckets, count, stats, missing, extra, missingEvents int64
	qerr                                                 []float64
	derr                                                 float64
	hours                                                map[string][]int64
	// buffers, reused from chunk to chunk
	slots  []int32 // group*hours+hour -> index+1 in sp, 0: none
	sp     []speedBucket
	bins   []flight.Bin
	dests  []string
	rows   []row
	pairs  []pair
	dsts   []string
	qs     []float64
	binVal map[int32]float64
}

func newWorker(v *view.View, speed SpeedReader) *worker {
	qs := flight.Percentiles()
	return &worker{v: v, speed: speed, qerr: make([]float64, len(qs)), hours: map[string][]int64{}, qs: qs,
		binVal: map[int32]float64{}}
}

// addTo adds the worker's share into rep.
func (w *worker) addTo(rep *Report) {
	rep.Buckets += w.buckets
	rep.CountMismatches += w.count
	rep.StatsMismatches += w.stats
	rep.MissingInSpeed += w.missing
	rep.ExtraInSpeed += w.extra
	rep.MissingEvents += w.missingEvents
	for i, q := range w.qs {
		name := flight.PercentileName(q)
		rep.QuantileRelErr[name] = max(rep.QuantileRelErr[name], w.qerr[i])
	}
	rep.DistinctRelErr = max(rep.DistinctRelErr, w.derr)
}

// job compares one chunk: the speed buckets of its hours first, held by
// (group, hour); then the batch view's rows of those hours, group by group,
// each bucket against its speed bucket; then the speed buckets that no batch
// bucket matched.
func (w *worker) job(ctx context.Context, j job) error {
	vc, nh := j.vc, int((j.hi-j.lo)/3600)
	w.slots = slices.Grow(w.slots[:0], len(vc.groups)*nh)[:len(vc.groups)*nh]
	clear(w.slots)
	w.sp, w.bins, w.dests = w.sp[:0], w.bins[:0], w.dests[:0]
	var withSpeed [chunkHours]bool
	err := w.speed.ScanHours(ctx, vc.def.Name, j.lo, j.hi, func(hour int64, group string, b *flight.SketchedBucket) error {
		if hour < j.lo || hour >= j.hi || hour%3600 != 0 {
			return fmt.Errorf("reconcile: the speed reader returned hour %d for [%d, %d)", hour, j.lo, j.hi)
		}
		h := int((hour - j.lo) / 3600)
		withSpeed[h] = true
		gi, ok := vc.gid[group]
		if !ok {
			w.extraInSpeed(b.Stats) // a group the batch view does not have
			return nil
		}
		slot := &w.slots[int(gi)*nh+h]
		if *slot != 0 {
			return fmt.Errorf("reconcile: the speed reader returned bucket %s %s %d twice", vc.def.Name, group, hour)
		}
		var sketched int64
		for _, b := range b.Bins {
			sketched += b.N
		}
		w.sp = append(w.sp, speedBucket{stats: b.Stats, sketched: sketched, bin0: int32(len(w.bins)), bins: int32(len(b.Bins)),
			dest0: int32(len(w.dests)), dests: int32(len(b.Dests))})
		w.bins = append(w.bins, b.Bins...)
		w.dests = append(w.dests, b.Dests...)
		*slot = int32(len(w.sp))
		return nil
	})
	if err != nil {
		return err
	}
	for h, ok := range withSpeed[:nh] {
		if ok {
			w.hours[vc.def.Name] = append(w.hours[vc.def.Name], j.lo+int64(h)*3600)
		}
	}
	matched := 0
	for gi, g := range vc.groups {
		w.rows = w.rows[:0]
		if err := w.v.RowsBetween(vc.def.Name, g, j.lo, j.hi, func(hour int64, t *view.Table, i int) {
			w.rows = append(w.rows, row{hour: hour, t: t, i: i})
		}); err != nil {
			return err
		}
		for lo := 0; lo < len(w.rows); {
			hi := lo + 1
			for hi < len(w.rows) && w.rows[hi].hour == w.rows[lo].hour {
				hi++
			}
			bucket := w.rows[lo:hi]
			lo = hi
			w.buckets++
			slot := w.slots[gi*nh+int((bucket[0].hour-j.lo)/3600)]
			if slot == 0 {
				w.missing++
				w.count++
				for _, r := range bucket {
					w.missingEvents += r.t.Stats(r.i).Count
				}
				continue
			}
			sb := &w.sp[slot-1]
			sb.matchedInBatch = true
			matched++
			w.compare(vc, bucket, sb)
		}
	}
	if matched < len(w.sp) {
		for i := range w.sp {
			if !w.sp[i].matchedInBatch {
				w.extraInSpeed(w.sp[i].stats)
			}
		}
	}
	return nil
}

// extraInSpeed counts a speed bucket that the batch view lacks: its whole
// count differs.
func (w *worker) extraInSpeed(st flight.Stats) {
	w.extra++
	if st.Count != 0 {
		w.count++
		w.missingEvents -= st.Count
	}
}

// compare compares one batch bucket (its rows) with its speed bucket: the
// stats exactly, the speed percentiles against the exact ones (relative
// error, the sketch's bound is flight.SketchRelativeAccuracy), the number of
// distinct destinations.
func (w *worker) compare(vc *viewCmp, bucket []row, sb *speedBucket) {
	var st flight.Stats
	for _, r := range bucket {
		st.Merge(r.t.Stats(r.i))
	}
	if st.Count != sb.stats.Count {
		w.count++
		w.missingEvents += st.Count - sb.stats.Count
		return
	}
	if st != sb.stats {
		w.stats++
	}
	// The percentiles of each side at its own nearest ranks, as
	// flight.Histogram and flight.DelaySketch compute them (the sketch's
	// count is its bins'), without their maps.
	pairs := w.hist(bucket)
	bins := w.bins[sb.bin0 : sb.bin0+sb.bins]
	if sketched := sb.sketched; len(pairs) > 0 && sketched > 0 {
		for i, q := range w.qs {
			exact := float64(nearest(pairs, flight.Rank(q, st.Count)))
			got := w.binValue(nearestBin(bins, flight.Rank(q, sketched)))
			if rel := math.Abs(got-exact) / math.Max(math.Abs(exact), 1); rel > w.qerr[i] {
				w.qerr[i] = rel
			}
		}
	}
	if vc.def.DistinctDestinations {
		if d := w.distinct(bucket); d > 0 {
			if rel := math.Abs(float64(int64(sb.dests)-d)) / float64(d); rel > w.derr {
				w.derr = rel
			}
		}
	}
}

// hist returns the exact histogram of a bucket's rows, by increasing delay.
func (w *worker) hist(bucket []row) []pair {
	w.pairs = w.pairs[:0]
	for _, r := range bucket {
		r.t.Hist(r.i, func(d int32, n int64) { w.pairs = append(w.pairs, pair{d, n}) })
	}
	if len(bucket) == 1 {
		return w.pairs // one row: sorted already
	}
	slices.SortFunc(w.pairs, func(a, b pair) int { return int(a.delay) - int(b.delay) })
	out := w.pairs[:0]
	for _, p := range w.pairs {
		if len(out) > 0 && out[len(out)-1].delay == p.delay {
			out[len(out)-1].n += p.n
			continue
		}
		out = append(out, p)
	}
	w.pairs = out
	return out
}

// distinct is the number of distinct destinations of a bucket's rows.
func (w *worker) distinct(bucket []row) int64 {
	if len(bucket) == 1 {
		return int64(bucket[0].t.NumDests(bucket[0].i))
	}
	w.dsts = w.dsts[:0]
	for _, r := range bucket {
		for j := range r.t.NumDests(r.i) {
			w.dsts = append(w.dsts, r.t.Dest(r.i, j))
		}
	}
	slices.Sort(w.dsts)
	return int64(len(slices.Compact(w.dsts)))
}

// binValue is flight.SketchBinValue, memoized: a bucket's percentiles fall
// in a few hundred bins at most.
func (w *worker) binValue(bin int32) float64 {
	v, ok := w.binVal[bin]
	if !ok {
		v = flight.SketchBinValue(bin)
		w.binVal[bin] = v
	}
	return v
}

// nearest is the smallest delay whose cumulative count reaches rank.
func nearest(pairs []pair, rank int64) int32 {
	var seen int64
	for _, p := range pairs {
		if seen += p.n; seen >= rank {
			return p.delay
		}
	}
	return pairs[len(pairs)-1].delay // rank beyond the count: the largest
}

// nearestBin is the first bin whose cumulative count reaches rank.
func nearestBin(bins []flight.Bin, rank int64) int32 {
	var seen int64
	for _, b := range bins {
		if seen += b.N; seen >= rank {
			return b.Bin
		}
	}
	return bins[len(bins)-1].Bin
}
