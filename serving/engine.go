package serving

import (
	"context"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/speed/store"
)

// BatchRange is a batch view's exact aggregate of one group over some hours.
type BatchRange struct {
	Stats flight.Stats
	// Hist is the exact histogram of delays, nil without flights.
	Hist Histogram
	// Destinations is the exact set, nil for views that do not keep it.
	Destinations DestinationSet
	// release, when set, gives the aggregate's memory back once merged.
	release func()
}

// Histogram is an exact histogram of delays (flight.Histogram, or the
// serving index's dense one).
type Histogram interface {
	Quantiles(qs ...float64) ([]int32, bool)
	Each(fn func(delay int32, count int64))
}

// DestinationSet is an exact set of destinations.
type DestinationSet interface {
	Len() int
	EachDestination(fn func(string))
}

// Release gives the range's memory back; it must not be used afterwards.
func (b *BatchRange) Release() {
	if b.release != nil {
		b.release()
		b.release = nil
	}
}

// BatchView is one published, immutable version of the batch view.
type BatchView interface {
	Version() int64
	// Boundary is the Unix second of the first hour the view does not cover.
	Boundary() int64
	PublishedAt() time.Time
	// Range merges a group's buckets over the hours [from, to).
	Range(view, group string, from, to int64) BatchRange
	// Groups lists the groups of a view.
	Groups(view string) []string
	// Span is the hours that hold data, [first, end).
	Span() (first, end int64)
}

// BatchSource gives the current batch view; nil when none is published yet.
type BatchSource interface {
	Current(ctx context.Context) (BatchView, error)
}

// SpeedSource reads the speed views (speed/store.Reader).
type SpeedSource interface {
	// Sums merges each group's buckets over the hours [from, to): its
	// stats and sketch (no quantiles, no distinct count).
	Sums(ctx context.Context, view string, groups []string, from, to int64) ([]store.Bucket, error)
	// Hourly reads one group's bucket of every hour of [from, to).
	Hourly(ctx context.Context, view, group string, from, to int64) ([]store.Bucket, error)
	// GroupsByHour lists, for each hour of [from, to) with buckets, the
	// groups that have one, in pipelined round trips.
	GroupsByHour(ctx context.Context, view string, from, to int64) (map[int64][]string, error)
	Partition(ctx context.Context, p int) (store.PartitionState, error)
	// SumDistinct is Sums of one group with, in Distinct, the size of the
	// union of its destinations over the hours [from, to) with an exact set.
	SumDistinct(ctx context.Context, view, group string, from, to int64, exact map[string]struct{}) (store.Bucket, error)
}

// engine answers queries by merging the batch and speed views.
type engine struct {
	batch      BatchSource
	speed      SpeedSource
	partitions int
	airportV   flight.View
	routeV     flight.View

	cache *answerCache // nil: none

	mu        sync.Mutex
	spanAt    time.Time
	speedSpan span
	partState []store.PartitionState
}

func newEngine(batch BatchSource, speed SpeedSource, partitions int) (*engine, error) {
	e := &engine{batch: batch, speed: speed, partitions: partitions}
	for _, v := range flight.Views() {
		switch {
		case v.Dim == flight.ByAirport && e.airportV.Name == "":
			e.airportV = v
		case v.Dim == flight.ByRoute && e.routeV.Name == "":
			e.routeV = v
		}
	}
	if e.airportV.Name == "" || e.routeV.Name == "" {
		return nil, fmt.Errorf("flight.Views() lacks an airport or a route view")
	}
	return e, nil
}

// speedState returns the speed partitions' state and the hours they hold
// data for, cached for a second: every query needs them, and they move slowly.
func (e *engine) speedState(ctx context.Context) (span, []store.PartitionState, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if time.Since(e.spanAt) < time.Second {
		return e.speedSpan, e.partState, nil
	}
	var s span
	states := make([]store.PartitionState, e.partitions)
	for p := range states {
		st, err := e.speed.Partition(ctx, p)
		if err != nil {
			return span{}, nil, err
		}
		states[p] = st
		if st.MaxTime > 0 {
			s.To = max(s.To, flight.Hour(st.MaxTime)+3600)
		}
		if st.MinTime > 0 && (s.From == 0 || flight.Hour(st.MinTime) < s.From) {
			s.From = flight.Hour(st.MinTime)
		}
	}
	e.speedSpan, e.partState, e.spanAt = s, states, time.Now()
	return s, states, nil
}

// plan splits a requested span into its batch part and its speed part.
type plan struct {
	bv           BatchView
	boundary     int64
	whole        span // the span answered
	batch, speed span // empty when From >= To
}

func (e *engine) plan(ctx context.Context, req span) (plan, error) {
	bv, err := e.batch.Current(ctx)
	if err != nil {
		return plan{}, fmt.Errorf("batch view: %w", err)
	}
	ss, _, err := e.speedState(ctx)
	if err != nil {
		return plan{}, fmt.Errorf("speed views: %w", err)
	}
	pl := plan{bv: bv}
	// The data's own span closes the open sides of the request.
	data := ss
	var bf, be int64
	if bv != nil {
		pl.boundary = bv.Boundary()
		bf, be = bv.Span()
		if be > bf {
			if data.From == 0 || bf < data.From {
				data.From = bf
			}
			data.To = max(data.To, be)
		}
	}
	pl.whole = req
	if pl.whole.From == 0 {
		pl.whole.From = data.From
	}
	if pl.whole.To == 0 {
		pl.whole.To = data.To
	}
	if pl.whole.To < pl.whole.From {
		pl.whole.To = pl.whole.From
	}
	// Each part reads only the hours its layer holds data for: a request
	// for a century costs what the data costs.
	pl.batch = span{max(pl.whole.From, bf), min(pl.whole.To, pl.boundary, be)}
	pl.speed = span{max(pl.whole.From, pl.boundary, ss.From), min(pl.whole.To, ss.To)}
	if pl.batch.empty() {
		pl.batch = span{}
	}
	if pl.speed.empty() {
		pl.speed = span{}
	}
	return pl, nil
}

// covered reports whether the batch view covers the whole answered span:
// only then is an answer final (exact); hours past the boundary may still
// receive flights, whatever the speed layer holds now.
func (pl plan) covered() bool { return pl.bv != nil && pl.whole.To <= pl.boundary }

// speedHours is the number of hours the speed part reads per group.
func (pl plan) speedHours() int64 {
	if pl.speed.empty() {
		return 0
	}
	return (pl.speed.To - pl.speed.From) / 3600
}

func (s span) empty() bool { return s.To <= s.From }

// result is a merged answer for one group.
type result struct {
	Stats     flight.Stats
	Quantiles []float64 // flight.Percentiles(), nil when there are no flights
	Exact     bool
	// Distinct destinations, -1 when not asked.
	Distinct int64
}

// key names an answer over the plan for the cache.
func (pl plan) key(view, group string) answerKey {
	k := answerKey{view: view, group: group, from: pl.whole.From, to: pl.whole.To, batchTo: pl.batch.To,
		speedFrom: pl.speed.From, speedTo: pl.speed.To}
	if pl.bv != nil {
		k.version = pl.bv.Version()
	}
	return k
}

// group answers for one group of view v over the plan.
func (e *engine) group(ctx context.Context, pl plan, v flight.View, group string, distinct bool) (result, error) {
	key := pl.key(v.Name, group)
	key.withDistinct = distinct
	if r, ok := e.cache.get(key); ok {
		return r.(result), nil
	}
	r, err := e.compute(ctx, pl, v, group, distinct)
	if err == nil {
		e.cache.put(key, r, !pl.speed.empty())
	}
	return r, err
}

func (e *engine) compute(ctx context.Context, pl plan, v flight.View, group string, distinct bool) (result, error) {
	var br BatchRange
	if pl.bv != nil && !pl.batch.empty() {
		br = pl.bv.Range(v.Name, group, pl.batch.From, pl.batch.To)
	}
	defer br.Release()
	withDistinct := distinct && v.DistinctDestinations
	var sb store.Bucket
	switch {
	case pl.speed.empty():
	case withDistinct:
		// The stats and the destinations in one read of the hours.
		var err error
		if sb, err = e.speed.SumDistinct(ctx, v.Name, group, pl.speed.From, pl.speed.To, setOf(br.Destinations)); err != nil {
			return result{}, fmt.Errorf("distinct destinations: %w", err)
		}
	default:
		sbs, err := e.speed.Sums(ctx, v.Name, []string{group}, pl.speed.From, pl.speed.To)
		if err != nil {
			return result{}, err
		}
		sb = sbs[0]
	}
	r := merge(br, sb, pl.covered())
	r.Distinct = -1
	if withDistinct {
		switch {
		case sb.Count > 0:
			r.Distinct = sb.Distinct // the union with the batch part's
		case br.Destinations != nil:
			r.Distinct = int64(br.Destinations.Len())
		default:
			r.Distinct = 0
		}
	}
	return r, nil
}

// merge combines an exact batch part with a speed part; covered says whether
// the batch view covers the whole span (the answer is then final: Exact).
// Quantiles are exact when no speed bucket took part; otherwise the batch
// histogram joins the speed sketch, the answer is within the sketch's
// relative error, and clamped to [min, max], which the sketch's bin
// midpoints can overshoot (one flight of 7 minutes: p50 7.03).
func merge(br BatchRange, sb store.Bucket, covered bool) result {
	r := result{Stats: br.Stats, Exact: covered && sb.Count == 0}
	r.Stats.Merge(sb.Stats)
	qs := flight.Percentiles()
	if sb.Count == 0 {
		if br.Hist == nil {
			return r
		}
		if vals, ok := br.Hist.Quantiles(qs...); ok {
			for _, v := range vals {
				r.Quantiles = append(r.Quantiles, float64(v))
			}
		}
		return r
	}
	if vals, ok := joinedQuantiles(br.Hist, &sb.Sketch, qs); ok {
		lo, hi := float64(r.Stats.Min), float64(r.Stats.Max)
		for _, v := range vals {
			r.Quantiles = append(r.Quantiles, min(hi, max(lo, math.Round(v*100)/100)))
		}
	}
	return r
}

// binCount is a sketch bin and its count.
type binCount struct {
	bin int32
	n   int64
}

// binned is a histogram that knows the sketch bin of each of its delays
// (the serving index computes them once per version).
type binned interface {
	EachBin(fn func(bin int32, count int64))
}

// joinedQuantiles are the quantiles qs of the speed sketch sk joined with
// the batch histogram h (nil: none) binned as the sketch bins its delays:
// what adding h's delays to sk and asking sk.Quantiles answers, the same
// nearest-rank bins, without building that sketch (a map of a few hundred
// bins for every airport of a top list). ok is false without flights.
func joinedQuantiles(h Histogram, sk *flight.DelaySketch, qs []float64) ([]float64, bool) {
	// Bins increase with delays: the histogram's bins come sorted.
	var batch []binCount
	add := func(b int32, c int64) {
		if n := len(batch); n > 0 && batch[n-1].bin == b {
			batch[n-1].n += c
		} else if c != 0 {
			batch = append(batch, binCount{b, c})
		}
	}
	switch bh := h.(type) {
	case nil:
	case binned:
		bh.EachBin(add)
	default:
		h.Each(func(d int32, c int64) { add(flight.SketchBin(d), c) })
	}
	total := sk.Count()
	for _, x := range batch {
		total += x.n
	}
	if total == 0 {
		return nil, false
	}
	ranks := make([]int64, len(qs))
	for i, q := range qs {
		ranks[i] = flight.Rank(q, total)
	}
	out := make([]float64, len(qs))
	var seen int64
	visit := func(b int32, c int64) {
		before := seen
		seen += c
		for i, r := range ranks {
			if r > before && r <= seen {
				out[i] = flight.SketchBinValue(b)
			}
		}
	}
	i := 0
	sk.Each(func(b int32, c int64) {
		for ; i < len(batch) && batch[i].bin < b; i++ {
			visit(batch[i].bin, batch[i].n)
		}
		if i < len(batch) && batch[i].bin == b {
			c += batch[i].n
			i++
		}
		visit(b, c)
	})
	for ; i < len(batch); i++ {
		visit(batch[i].bin, batch[i].n)
	}
	return out, true
}

// setOf copies an exact set of destinations for the speed reader (a few
// hundred airports at most), nil for none.
func setOf(d DestinationSet) map[string]struct{} {
	if d == nil {
		return nil
	}
	m := make(map[string]struct{}, d.Len())
	d.EachDestination(func(s string) { m[s] = struct{}{} })
	return m
}

// groupsOf lists the groups of a view with data in the plan's span: the
// batch view's, then the speed hours' in chunks, growing from a day (one
// pipelined round trip each). enough, when set, is asked after each chunk
// with the groups found so far: true stops the listing there (the caller
// has its answer: a group found, or a budget already exceeded), and the
// list returned is then partial.
func (e *engine) groupsOf(ctx context.Context, pl plan, v flight.View, enough func(found map[string]struct{}) bool) ([]string, error) {
	set := map[string]struct{}{}
	if pl.bv != nil && !pl.batch.empty() {
		for _, g := range pl.bv.Groups(v.Name) {
			set[g] = struct{}{}
		}
	}
	chunk := int64(groupsChunkFirst)
	for h := pl.speed.From; h < pl.speed.To && (enough == nil || !enough(set)); h += chunk * 3600 {
		if h > pl.speed.From {
			chunk = min(2*chunk, groupsChunkMax)
		}
		byHour, err := e.speed.GroupsByHour(ctx, v.Name, h, min(h+chunk*3600, pl.speed.To))
		if err != nil {
			return nil, err
		}
		for _, gs := range byHour {
			for _, g := range gs {
				set[g] = struct{}{}
			}
		}
	}
	out := make([]string, 0, len(set))
	for g := range set {
		out = append(out, g)
	}
	sort.Strings(out)
	return out, nil
}

// The speed hours whose groups groupsOf lists per round trip: a day first
// (most requests read less), doubling up to groupsChunkMax.
const (
	groupsChunkFirst = 24
	groupsChunkMax   = 384
)

// many answers for many groups at once: the batch parts from memory, the
// speed parts summed by the reader (in pipelined round trips of a few
// thousand buckets: the memory of a request is that of a round trip,
// whatever its budget of buckets).
func (e *engine) many(ctx context.Context, pl plan, v flight.View, groups []string) ([]result, error) {
	sbs := make([]store.Bucket, len(groups))
	if !pl.speed.empty() {
		var err error
		if sbs, err = e.speed.Sums(ctx, v.Name, groups, pl.speed.From, pl.speed.To); err != nil {
			return nil, err
		}
	}
	out := make([]result, len(groups))
	for i, g := range groups {
		var br BatchRange
		if pl.bv != nil && !pl.batch.empty() {
			br = pl.bv.Range(v.Name, g, pl.batch.From, pl.batch.To)
		}
		out[i] = merge(br, sbs[i], pl.covered())
		out[i].Distinct = -1
		br.Release()
	}
	return out, nil
}

// series answers for one airport hour by hour: the batch hours from memory,
// the speed hours in pipelined round trips.
func (e *engine) series(ctx context.Context, pl plan, code string) ([]Hour, error) {
	v := e.airportV
	var buckets []store.Bucket
	if !pl.speed.empty() {
		var err error
		if buckets, err = e.speed.Hourly(ctx, v.Name, code, pl.speed.From, pl.speed.To); err != nil {
			return nil, err
		}
	}
	var out []Hour
	for h := pl.whole.From; h < pl.whole.To; h += 3600 {
		var br BatchRange
		if pl.bv != nil && h >= pl.batch.From && h < pl.batch.To {
			br = pl.bv.Range(v.Name, code, h, h+3600)
		}
		var sb store.Bucket
		if h >= pl.speed.From && h < pl.speed.To {
			sb = buckets[(h-pl.speed.From)/3600]
		}
		r := merge(br, sb, pl.bv != nil && h+3600 <= pl.boundary)
		br.Release()
		hr := Hour{Hour: rfc3339(h), Flights: r.Stats.Count, Exact: r.Exact}
		if r.Stats.Count > 0 {
			hr.Mean = round(r.Stats.Mean(), 3)
			if len(r.Quantiles) == 3 {
				hr.P95 = &r.Quantiles[1]
			}
		}
		out = append(out, hr)
	}
	return out, nil
}
