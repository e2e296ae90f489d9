package reconcile

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/tributary-dev/tributary/batch/view"
	"github.com/tributary-dev/tributary/flight"
)

// chunkHours is the span of one unit of the bucket-by-bucket comparison:
// the speed buckets of that many hours of one view are read in bulk and
// held while the batch view's rows of the same hours are walked group by
// group. 128 hours of the route view are ~60,000 buckets: a few MB,
// whatever the range reconciled.
const chunkHours = 128

// digestBlock is the number of groups of one unit of the digest pass.
const digestBlock = 32

// viewCmp is what the workers share about one view: its groups, numbered.
type viewCmp struct {
	index  int // in flight.Views()
	def    flight.View
	groups []string
	gid    map[string]int32
}

// job is one chunk of hours [lo, hi) of one view, compared bucket by bucket.
type job struct {
	vc     *viewCmp
	lo, hi int64
}

// block is the groups [lo, hi) of one view, for the digest pass.
type block struct {
	vc     *viewCmp
	lo, hi int
}

// hourDigests is one view's digest pass over the hours of the
// reconciliation: per hour, the sum of its buckets' flight.BucketHash, its
// number of buckets, and the largest relative error of each percentile
// (len(qs) per hour) that the sketch of each bucket's exact events makes.
type hourDigests struct {
	sum     []uint64
	buckets []int64
	qerr    []float64
}

func newHourDigests(nh, nq int) *hourDigests {
	return &hourDigests{sum: make([]uint64, nh), buckets: make([]int64, nh), qerr: make([]float64, nh*nq)}
}

// add adds o's hours into d.
func (d *hourDigests) add(o *hourDigests) {
	for i := range d.sum {
		d.sum[i] += o.sum[i]
		d.buckets[i] += o.buckets[i]
	}
	for i := range d.qerr {
		d.qerr[i] = max(d.qerr[i], o.qerr[i])
	}
}

// compareView compares the view of index vi of flight.Views(), loaded in v,
// over the nh hours from `from`, adding its counts and errors into rep
// (whose From, To and At are the caller's). First the workers
// compute the batch view's digests, cfg.Parallelism blocks of groups at
// once, then they are set against the speed layer's (speed: read since the
// view began to load). Then the hours whose digests or bucket counts
// differ, or that lack a digest, are compared bucket by bucket, in chunks
// of at most chunkHours, cfg.Parallelism chunks at once. A view with no
// group (nil, or empty) compares the speed buckets of those hours against
// none: each is extra in speed.
func compareView(ctx context.Context, cfg Config, v *view.View, vi int, from int64, nh int,
	speedOf func() ([]flight.HourDigest, error), rep *Report) error {
	def := flight.Views()[vi]
	var gs []string
	if v != nil {
		var err error
		if gs, err = v.Groups(def.Name); err != nil {
			return err
		}
	}
	vc := &viewCmp{index: vi, def: def, groups: gs, gid: make(map[string]int32, len(gs))}
	for i, g := range gs {
		vc.gid[g] = int32(i)
	}
	var blocks []block
	for lo := 0; lo < len(gs); lo += digestBlock {
		blocks = append(blocks, block{vc: vc, lo: lo, hi: min(lo+digestBlock, len(gs))})
	}
	n := cfg.Parallelism
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	ws := make([]*worker, n)
	for i := range ws {
		ws[i] = newWorker(v, cfg.Speed)
	}
	nviews := len(flight.Views())
	eg, ectx := errgroup.WithContext(ctx)
	if err := runAll(ectx, eg, ws, len(blocks), func(w *worker, i int) error {
		b := blocks[i]
		return w.digests(b.vc, b.lo, b.hi, from, nh, nviews)
	}); err != nil {
		return err
	}
	speed, err := speedOf()
	if err != nil {
		return err
	}
	var jobs []job
	qs := flight.Percentiles()
	qerr := make([]float64, len(qs))
	batch := newHourDigests(nh, len(qs))
	for _, w := range ws {
		if w.hd != nil && w.hd[vi] != nil {
			batch.add(w.hd[vi])
		}
	}
	same := func(h int) bool {
		d := speed[h]
		return d.Complete && d.Sum == batch.sum[h] && d.Buckets == batch.buckets[h]
	}
	for h := 0; h < nh; {
		if same(h) {
			// Every bucket of the hour is the same on both sides: the
			// counts and stats agree, the distinct destinations are
			// the same sets, and the speed percentiles are the
			// sketch's of the exact events, whose errors the digest
			// pass computed.
			if batch.buckets[h] > 0 {
				rep.HoursByDigest++
			}
			rep.Buckets += batch.buckets[h]
			for q := range qerr {
				qerr[q] = max(qerr[q], batch.qerr[h*len(qs)+q])
			}
			h++
			continue
		}
		lo := h
		for h < nh && !same(h) && h-lo < chunkHours {
			if batch.buckets[h] > 0 || speed[h].Present {
				rep.HoursCompared++
			}
			h++
		}
		jobs = append(jobs, job{vc: vc, lo: from + int64(lo)*3600, hi: from + int64(h)*3600})
	}
	for q, e := range qerr {
		name := flight.PercentileName(qs[q])
		rep.QuantileRelErr[name] = max(rep.QuantileRelErr[name], e)
	}
	eg, ectx = errgroup.WithContext(ctx)
	if err := runAll(ectx, eg, ws, len(jobs), func(w *worker, i int) error {
		return w.compareHours(ectx, jobs[i].vc, jobs[i].lo, jobs[i].hi)
	}); err != nil {
		return err
	}
	for _, w := range ws {
		w.addTo(rep)
	}
	return nil
}

// runAll runs the units [0, n) on the workers, each taking the next unit
// when done with one, in eg (which may run other goroutines), and waits.
func runAll(ctx context.Context, eg *errgroup.Group, ws []*worker, n int, fn func(w *worker, i int) error) error {
	var next atomic.Int64
	for _, w := range ws {
		eg.Go(func() error {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return nil
				}
				if err := fn(w, i); err != nil {
					return err
				}
			}
			return ctx.Err()
		})
	}
	return eg.Wait()
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
	// the digest pass's: per view, the hours' digests of the groups this
	// worker walked; the sketch bins of a bucket; the memoized bins and
	// one-flight errors of the delays of a day either way
	hd    []*hourDigests
	sbins []flight.Bin
	binOf []int32
	errOf []float64
}

func newWorker(v *view.View, speed SpeedReader) *worker {
	qs := flight.Percentiles()
	return &worker{v: v, speed: speed, qerr: make([]float64, len(qs)), qs: qs,
		binVal: map[int32]float64{}}
}

// addTo adds the worker's share into rep.
func (w *worker) addTo(rep *Report) {
	share := &Report{Buckets: w.buckets, CountMismatches: w.count, StatsMismatches: w.stats, MissingInSpeed: w.missing,
		ExtraInSpeed: w.extra, MissingEvents: w.missingEvents, DistinctRelErr: w.derr, QuantileRelErr: map[string]float64{}}
	for i, q := range w.qs {
		share.QuantileRelErr[flight.PercentileName(q)] = w.qerr[i]
	}
	rep.add(share)
}

// digests computes the batch view's hourDigests of the groups [glo, ghi)
// of a view over the nh hours from `from`, adding them into the worker's
// (w.hd, per view of nviews).
func (w *worker) digests(vc *viewCmp, glo, ghi int, from int64, nh, nviews int) error {
	if w.hd == nil {
		w.hd = make([]*hourDigests, nviews)
	}
	if w.hd[vc.index] == nil {
		w.hd[vc.index] = newHourDigests(nh, len(w.qs))
	}
	hd, nq := w.hd[vc.index], len(w.qs)
	to := from + int64(nh)*3600
	for _, g := range vc.groups[glo:ghi] {
		if err := w.eachBucket(vc.def.Name, g, from, to, func(bucket []row) {
			h := int((bucket[0].hour - from) / 3600)
			st := bucket[0].t.Stats(bucket[0].i)
			for _, r := range bucket[1:] {
				st.Merge(r.t.Stats(r.i))
			}
			bh := flight.NewBucketHash(g, st)
			qe := hd.qerr[h*nq : (h+1)*nq]
			if st.Count == 1 {
				// One flight: its delay is the min, every percentile.
				bh.Bin(w.sketchBin(st.Min), 1)
				e := w.oneErr(st.Min)
				for i := range qe {
					qe[i] = max(qe[i], e)
				}
			} else {
				pairs := w.hist(bucket)
				w.sbins = w.sbins[:0]
				for _, p := range pairs { // increasing delays: non-decreasing bins
					b := w.sketchBin(p.delay)
					if n := len(w.sbins); n > 0 && w.sbins[n-1].Bin == b {
						w.sbins[n-1].N += p.n
					} else {
						w.sbins = append(w.sbins, flight.Bin{Bin: b, N: p.n})
					}
				}
				for _, b := range w.sbins {
					bh.Bin(b.Bin, b.N)
				}
				if len(pairs) > 0 {
					for i, q := range w.qs {
						rank := flight.Rank(q, st.Count)
						exact := float64(nearest(pairs, rank))
						got := w.binValue(nearestBin(w.sbins, rank))
						qe[i] = max(qe[i], math.Abs(got-exact)/math.Max(math.Abs(exact), 1))
					}
				}
			}
			if vc.def.DistinctDestinations {
				for _, d := range w.destSet(bucket) {
					bh.Dest(d)
				}
			}
			hd.sum[h] += bh.Sum()
			hd.buckets[h]++
		}); err != nil {
			return err
		}
	}
	return nil
}

// eachBucket calls fn with the rows of each bucket of group g of a view
// over the hours [from, to), hour after hour; the slice is reused by the
// next call.
func (w *worker) eachBucket(viewName, g string, from, to int64, fn func(bucket []row)) error {
	w.rows = w.rows[:0]
	if err := w.v.RowsBetween(viewName, g, from, to, func(hour int64, t *view.Table, i int) {
		w.rows = append(w.rows, row{hour: hour, t: t, i: i})
	}); err != nil {
		return err
	}
	for r0 := 0; r0 < len(w.rows); {
		r1 := r0 + 1
		for r1 < len(w.rows) && w.rows[r1].hour == w.rows[r0].hour {
			r1++
		}
		fn(w.rows[r0:r1])
		r0 = r1
	}
	return nil
}

// binTableHalf bounds the delays (minutes, a day either way) whose bin and
// one-flight error the workers memoize in tables: a logarithm otherwise,
// per distinct delay of every bucket.
const binTableHalf = 1440

// sketchBin is flight.SketchBin, memoized.
func (w *worker) sketchBin(d int32) int32 {
	if d <= -binTableHalf || d >= binTableHalf {
		return flight.SketchBin(d)
	}
	if w.binOf == nil {
		w.binOf = make([]int32, 2*binTableHalf)
		w.errOf = make([]float64, 2*binTableHalf)
		for i := range w.binOf {
			d := int32(i - binTableHalf)
			w.binOf[i] = flight.SketchBin(d)
			w.errOf[i] = relErr(flight.SketchBinValue(w.binOf[i]), float64(d))
		}
	}
	return w.binOf[d+binTableHalf]
}

// oneErr is the relative error of the sketch of one flight of delay d.
func (w *worker) oneErr(d int32) float64 {
	if d <= -binTableHalf || d >= binTableHalf {
		return relErr(flight.SketchBinValue(flight.SketchBin(d)), float64(d))
	}
	w.sketchBin(0) // fills the tables
	return w.errOf[d+binTableHalf]
}

// relErr is the relative error of got against exact, as the report defines
// it: |got - exact| / max(|exact|, 1).
func relErr(got, exact float64) float64 {
	return math.Abs(got-exact) / math.Max(math.Abs(exact), 1)
}

// destSet is a bucket's distinct destinations, sorted.
func (w *worker) destSet(bucket []row) []string {
	w.dsts = w.dsts[:0]
	for _, r := range bucket {
		for j := range r.t.NumDests(r.i) {
			w.dsts = append(w.dsts, r.t.Dest(r.i, j))
		}
	}
	if len(bucket) == 1 {
		return w.dsts // one row: sorted and distinct already
	}
	slices.Sort(w.dsts)
	w.dsts = slices.Compact(w.dsts)
	return w.dsts
}

// compareHours compares the hours [lo, hi) of a view bucket by bucket: the
// speed buckets of its hours first, held by (group, hour); then the batch
// view's rows of those hours, group by group, each bucket against its speed
// bucket; then the speed buckets that no batch bucket matched.
func (w *worker) compareHours(ctx context.Context, vc *viewCmp, lo, hi int64) error {
	nh := int((hi - lo) / 3600)
	w.slots = slices.Grow(w.slots[:0], len(vc.groups)*nh)[:len(vc.groups)*nh]
	clear(w.slots)
	w.sp, w.bins, w.dests = w.sp[:0], w.bins[:0], w.dests[:0]
	err := w.speed.ScanHours(ctx, vc.def.Name, lo, hi, func(hour int64, group string, b *flight.SketchedBucket) error {
		if hour < lo || hour >= hi || hour%3600 != 0 {
			return fmt.Errorf("reconcile: the speed reader returned hour %d for [%d, %d)", hour, lo, hi)
		}
		h := int((hour - lo) / 3600)
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
	matched := 0
	for gi, g := range vc.groups {
		if err := w.eachBucket(vc.def.Name, g, lo, hi, func(bucket []row) {
			w.buckets++
			slot := w.slots[gi*nh+int((bucket[0].hour-lo)/3600)]
			if slot == 0 {
				w.missing++
				w.count++
				for _, r := range bucket {
					w.missingEvents += r.t.Stats(r.i).Count
				}
				return
			}
			sb := &w.sp[slot-1]
			sb.matchedInBatch = true
			matched++
			w.compare(vc, bucket, sb)
		}); err != nil {
			return err
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
	return int64(len(w.destSet(bucket)))
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
