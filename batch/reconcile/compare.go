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
	// the digest pass's, per hour of a chunk: the batch digest, the number
	// of buckets and the percentiles' errors (nh * len(qs))
	hsum     []uint64
	hbuckets []int64
	hqerr    []float64
	sbins    []flight.Bin
	binOf    []int32
	// hours settled by their digests, and compared bucket by bucket
	byDigest, compared int64
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
	rep.HoursByDigest += w.byDigest
	rep.HoursCompared += w.compared
	for i, q := range w.qs {
		name := flight.PercentileName(q)
		rep.QuantileRelErr[name] = max(rep.QuantileRelErr[name], w.qerr[i])
	}
	rep.DistinctRelErr = max(rep.DistinctRelErr, w.derr)
}

// job compares one chunk of hours. It reads the speed layer's digest of
// every hour (flight.HourDigest: one field per partition's hour hash) and
// computes the same digests from the batch view's rows (digests); the hours
// whose digests agree hold, bucket for bucket, the sketch of the batch
// view's exact events, and are not read. Only the other hours (a
// difference, or a hash written without a digest) are compared bucket by
// bucket (compareHours).
func (w *worker) job(ctx context.Context, j job) error {
	vc, nh := j.vc, int((j.hi-j.lo)/3600)
	ds, err := w.speed.HourDigests(ctx, vc.def.Name, j.lo, j.hi)
	if err != nil {
		return err
	}
	if len(ds) != nh {
		return fmt.Errorf("reconcile: the speed reader returned %d digests for the %d hours of [%d, %d)", len(ds), nh, j.lo, j.hi)
	}
	for h, d := range ds {
		if want := j.lo + int64(h)*3600; d.Hour != want {
			return fmt.Errorf("reconcile: the speed reader returned the digest of hour %d for hour %d", d.Hour, want)
		}
		if d.Present {
			w.hours[vc.def.Name] = append(w.hours[vc.def.Name], d.Hour)
		}
	}
	if err := w.digests(vc, j.lo, nh); err != nil {
		return err
	}
	for lo := 0; lo < nh; {
		if w.same(ds[lo], lo) {
			// Every bucket of the hour is the same on both sides: the
			// counts and stats agree, the distinct destinations are the
			// same sets, and the speed percentiles are the sketch's of the
			// exact events, whose errors digests computed.
			if w.hbuckets[lo] > 0 || ds[lo].Present {
				w.byDigest++
			}
			w.buckets += w.hbuckets[lo]
			for i := range w.qerr {
				w.qerr[i] = max(w.qerr[i], w.hqerr[lo*len(w.qs)+i])
			}
			lo++
			continue
		}
		hi := lo + 1
		for hi < nh && !w.same(ds[hi], hi) {
			hi++
		}
		if err := w.compareHours(ctx, vc, j.lo+int64(lo)*3600, j.lo+int64(hi)*3600); err != nil {
			return err
		}
		for h := lo; h < hi; h++ {
			if w.hbuckets[h] > 0 || ds[h].Present {
				w.compared++
			}
		}
		lo = hi
	}
	return nil
}

// same says whether the speed layer's hour h of the chunk holds the batch
// view's buckets: the same number of them and the same digest.
func (w *worker) same(d flight.HourDigest, h int) bool {
	return d.Complete && d.Sum == w.hsum[h] && d.Buckets == w.hbuckets[h]
}

// digests computes, from the batch view's rows of the nh hours from lo, each
// hour's flight.HourDigest sum (hsum), its number of buckets (hbuckets) and
// the largest relative error of each percentile that the sketch of each
// bucket's exact events makes (hqerr): the speed layer's, should the digests
// agree.
func (w *worker) digests(vc *viewCmp, lo int64, nh int) error {
	w.hsum = slices.Grow(w.hsum[:0], nh)[:nh]
	w.hbuckets = slices.Grow(w.hbuckets[:0], nh)[:nh]
	w.hqerr = slices.Grow(w.hqerr[:0], nh*len(w.qs))[:nh*len(w.qs)]
	clear(w.hsum)
	clear(w.hbuckets)
	clear(w.hqerr)
	hi := lo + int64(nh)*3600
	for _, g := range vc.groups {
		w.rows = w.rows[:0]
		if err := w.v.RowsBetween(vc.def.Name, g, lo, hi, func(hour int64, t *view.Table, i int) {
			w.rows = append(w.rows, row{hour: hour, t: t, i: i})
		}); err != nil {
			return err
		}
		for r0 := 0; r0 < len(w.rows); {
			r1 := r0 + 1
			for r1 < len(w.rows) && w.rows[r1].hour == w.rows[r0].hour {
				r1++
			}
			bucket := w.rows[r0:r1]
			r0 = r1
			h := int((bucket[0].hour - lo) / 3600)
			var st flight.Stats
			for _, r := range bucket {
				st.Merge(r.t.Stats(r.i))
			}
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
			bh := flight.NewBucketHash(g, st)
			for _, b := range w.sbins {
				bh.Bin(b.Bin, b.N)
			}
			if vc.def.DistinctDestinations {
				for _, d := range w.destSet(bucket) {
					bh.Dest(d)
				}
			}
			w.hsum[h] += bh.Sum()
			w.hbuckets[h]++
			if len(pairs) > 0 {
				qe := w.hqerr[h*len(w.qs) : (h+1)*len(w.qs)]
				for i, q := range w.qs {
					rank := flight.Rank(q, st.Count)
					exact := float64(nearest(pairs, rank))
					got := w.binValue(nearestBin(w.sbins, rank))
					qe[i] = max(qe[i], math.Abs(got-exact)/math.Max(math.Abs(exact), 1))
				}
			}
		}
	}
	return nil
}

// sketchBin is flight.SketchBin, memoized for the delays of a day either
// way (a logarithm otherwise, per distinct delay of every bucket).
func (w *worker) sketchBin(d int32) int32 {
	const half = 1440
	if d <= -half || d >= half {
		return flight.SketchBin(d)
	}
	if w.binOf == nil {
		w.binOf = make([]int32, 2*half)
		for i := range w.binOf {
			w.binOf[i] = flight.SketchBin(int32(i - half))
		}
	}
	return w.binOf[d+half]
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
		w.rows = w.rows[:0]
		if err := w.v.RowsBetween(vc.def.Name, g, lo, hi, func(hour int64, t *view.Table, i int) {
			w.rows = append(w.rows, row{hour: hour, t: t, i: i})
		}); err != nil {
			return err
		}
		for r0 := 0; r0 < len(w.rows); {
			r1 := r0 + 1
			for r1 < len(w.rows) && w.rows[r1].hour == w.rows[r0].hour {
				r1++
			}
			bucket := w.rows[r0:r1]
			r0 = r1
			w.buckets++
			slot := w.slots[gi*nh+int((bucket[0].hour-lo)/3600)]
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
