package view

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/tributary-dev/tributary/batch/partial"
	"github.com/tributary-dev/tributary/flight"
)

// View is one loaded version of the batch view, indexed for range queries.
// It is immutable and safe for concurrent use.
type View struct {
	Manifest
	views map[string]*index
	defs  map[string]flight.View
}

// index is one view's buckets by group; each group's entries are sorted by
// hour (a bucket split over nodes has several entries of the same hour).
type index struct {
	groups map[string][]entry
	tables []*partial.Table
}

type entry struct {
	hour  int64
	table int32
	row   int32
}

// Load reads the current version: its manifest, then its nodes, and indexes
// the buckets before the boundary. Loading the whole first half of 2001
// (3,000,000 flights) takes one GET per node and an index of 16 bytes per
// bucket; the Arrow buffers are used in place.
func Load(ctx context.Context, rdb redis.Cmdable, keyPrefix string) (*View, error) {
	m, err := Current(ctx, rdb, keyPrefix)
	if err != nil {
		return nil, err
	}
	return LoadManifest(ctx, rdb, m)
}

// LoadManifest loads the version that m describes.
func LoadManifest(ctx context.Context, rdb redis.Cmdable, m Manifest) (*View, error) {
	return load(ctx, rdb, m, flight.Views())
}

// LoadViews loads only the named views of the version that m describes: it
// reads and decodes every node as LoadManifest does, but keeps and indexes
// only those views' tables, so that a reader walking one view at a time
// (the reconciliation) holds that view's Arrow buffers only. The other
// views are unknown to the result (ErrUnknownView).
func LoadViews(ctx context.Context, rdb redis.Cmdable, m Manifest, names ...string) (*View, error) {
	var defs []flight.View
	for _, n := range names {
		i := slices.IndexFunc(flight.Views(), func(d flight.View) bool { return d.Name == n })
		if i < 0 {
			return nil, fmt.Errorf("%w %q", ErrUnknownView, n)
		}
		defs = append(defs, flight.Views()[i])
	}
	return load(ctx, rdb, m, defs)
}

// load loads the views defs of the version that m describes.
func load(ctx context.Context, rdb redis.Cmdable, m Manifest, defs []flight.View) (*View, error) {
	v := &View{Manifest: m, views: map[string]*index{}, defs: map[string]flight.View{}}
	names := make([]string, len(defs))
	for i, d := range defs {
		v.defs[d.Name] = d
		v.views[d.Name] = &index{groups: map[string][]entry{}}
		names[i] = d.Name
	}
	// A few nodes per round trip: their compressed bytes are garbage once
	// decoded, and 16 at a time (~30 MB on 3M flights) raised the peak of
	// every reader (serve, the reconciliation) for no speed-up.
	// The nodes of a round trip are decoded in parallel (lz4 and Arrow:
	// most of a load's CPU), the loaded views' record batches only, then
	// each view indexes them in its own goroutine (the views' indexes are
	// separate maps).
	// The next round trip is in flight while a chunk is decoded: Redis
	// sends while the process decodes.
	const chunk = 4
	type fetched struct {
		keys []string
		cmds []*redis.StringCmd
		err  error
	}
	fetch := func(lo int) <-chan fetched {
		ch := make(chan fetched, 1)
		go func() {
			f := fetched{keys: m.Nodes[lo:min(lo+chunk, len(m.Nodes))]}
			pipe := rdb.Pipeline()
			f.cmds = make([]*redis.StringCmd, len(f.keys))
			for i, k := range f.keys {
				f.cmds[i] = pipe.Get(ctx, k)
			}
			_, f.err = pipe.Exec(ctx)
			ch <- f
		}()
		return ch
	}
	var next <-chan fetched
	if len(m.Nodes) > 0 {
		next = fetch(0)
	}
	for lo := 0; lo < len(m.Nodes); lo += chunk {
		f := <-next
		if lo+chunk < len(m.Nodes) {
			next = fetch(lo + chunk)
		}
		keys, cmds := f.keys, f.cmds
		if err := f.err; err != nil {
			if errors.Is(err, redis.Nil) {
				return nil, fmt.Errorf("batch view %d: a node expired (a newer version replaced it; load again): %w", m.Version, err)
			}
			return nil, fmt.Errorf("batch view %d: %w", m.Version, err)
		}
		aggs := make([]*partial.Aggregate, len(cmds))
		var eg errgroup.Group
		for i, c := range cmds {
			eg.Go(func() error {
				b, _ := c.Bytes()
				a, err := partial.DecodeViews(b, names)
				if err != nil {
					return fmt.Errorf("batch view %d: node %s: %w", m.Version, keys[i], err)
				}
				aggs[i] = a
				return nil
			})
		}
		if err := eg.Wait(); err != nil {
			return nil, err
		}
		var wg sync.WaitGroup
		for name, ix := range v.views {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, a := range aggs {
					v.add(a, name, ix)
				}
			}()
		}
		wg.Wait()
	}
	var wg sync.WaitGroup
	for _, ix := range v.views {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for g, es := range ix.groups {
				slices.SortStableFunc(es, func(a, b entry) int { return int(a.hour - b.hour) })
				ix.groups[g] = slices.Clip(es)
			}
		}()
	}
	wg.Wait()
	return v, nil
}

// add indexes the table of one view (name, whose index is ix) of a node;
// a view that this build does not know is not indexed.
func (v *View) add(a *partial.Aggregate, name string, ix *index) {
	for ti, n := range a.Views {
		if n != name {
			continue
		}
		t := a.Tables[ti]
		tid := int32(len(ix.tables))
		ix.tables = append(ix.tables, t)
		// Rows are sorted by group: one map access per run of a group's
		// rows (a node holds ~150 rows per route, thousands per airport),
		// not per row.
		for i := 0; i < t.Len(); {
			g := t.Group(i)
			j := i + 1
			for j < t.Len() && t.Group(j) == g {
				j++
			}
			es := ix.groups[g]
			for r := i; r < j; r++ {
				if h := t.Hour(r); h < v.Boundary {
					es = append(es, entry{hour: h, table: tid, row: int32(r)})
				}
			}
			if len(es) > 0 {
				ix.groups[g] = es
			}
			i = j
		}
	}
}

// ErrUnknownView is returned for a view that flight.Views() does not define.
var ErrUnknownView = errors.New("unknown view")

// Views returns the names of the loaded views, in flight.Views() order.
func (v *View) Views() []string {
	var out []string
	for _, d := range flight.Views() {
		if _, ok := v.views[d.Name]; ok {
			out = append(out, d.Name)
		}
	}
	return out
}

// Groups returns a view's groups, sorted.
func (v *View) Groups(view string) ([]string, error) {
	ix, ok := v.views[view]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownView, view)
	}
	out := make([]string, 0, len(ix.groups))
	for g := range ix.groups {
		out = append(out, g)
	}
	sort.Strings(out)
	return out, nil
}

// Hours returns the hours (Unix seconds) with data of one group, increasing.
func (v *View) Hours(view, group string) ([]int64, error) {
	ix, ok := v.views[view]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownView, view)
	}
	var out []int64
	for _, e := range ix.groups[group] {
		if len(out) == 0 || out[len(out)-1] != e.hour {
			out = append(out, e.hour)
		}
	}
	return out, nil
}

// Aggregate is the exact answer for one group over a range of hours.
type Aggregate struct {
	View, Group string
	// From and To are the range asked, clipped to the boundary: hours [From, To).
	From, To int64
	flight.Stats
	Hist flight.Histogram
	// Destinations is the set of distinct destinations, nil for views
	// that do not count them.
	Destinations map[string]struct{}
}

// Quantiles returns the exact nearest-rank quantiles (flight.Percentiles()
// when qs is empty); ok is false without flights.
func (a *Aggregate) Quantiles(qs ...float64) ([]int32, bool) {
	if len(qs) == 0 {
		qs = flight.Percentiles()
	}
	return a.Hist.Quantiles(qs...)
}

// Distinct is the number of distinct destinations, -1 for views that do not count them.
func (a *Aggregate) Distinct() int64 {
	if a.Destinations == nil {
		return -1
	}
	return int64(len(a.Destinations))
}

// Range aggregates one group's buckets of the hours [from, to) (Unix
// seconds; to is clipped to the boundary). A month is ~744 buckets: a binary
// search, then one pass.
func (v *View) Range(view, group string, from, to int64) (Aggregate, error) {
	ix, ok := v.views[view]
	if !ok {
		return Aggregate{}, fmt.Errorf("%w %q", ErrUnknownView, view)
	}
	to = min(to, v.Boundary)
	a := Aggregate{View: view, Group: group, From: from, To: to}
	if v.defs[view].DistinctDestinations {
		a.Destinations = map[string]struct{}{}
	}
	es := ix.groups[group]
	i := sort.Search(len(es), func(i int) bool { return es[i].hour >= from })
	for ; i < len(es) && es[i].hour < to; i++ {
		t, r := ix.tables[es[i].table], int(es[i].row)
		a.Stats.Merge(t.Stats(r))
		t.AddHist(r, &a.Hist)
		if a.Destinations != nil {
			for j := 0; j < t.NumDests(r); j++ {
				d := t.Dest(r, j)
				if _, ok := a.Destinations[d]; !ok {
					a.Destinations[string([]byte(d))] = struct{}{} // own copy: d points into an Arrow buffer
				}
			}
		}
	}
	return a, nil
}

// Stats adds up one group's statistics over [from, to) without the
// histograms and destinations: cheaper than Range when they are not needed.
func (v *View) Stats(view, group string, from, to int64) (flight.Stats, error) {
	ix, ok := v.views[view]
	if !ok {
		return flight.Stats{}, fmt.Errorf("%w %q", ErrUnknownView, view)
	}
	to = min(to, v.Boundary)
	var s flight.Stats
	es := ix.groups[group]
	for i := sort.Search(len(es), func(i int) bool { return es[i].hour >= from }); i < len(es) && es[i].hour < to; i++ {
		s.Merge(ix.tables[es[i].table].Stats(int(es[i].row)))
	}
	return s, nil
}

// Bucket is Range over one hour.
func (v *View) Bucket(view, group string, hour int64) (Aggregate, error) {
	return v.Range(view, group, hour, hour+3600)
}

// Each calls fn for every bucket of a view in [from, to), group by group
// (sorted) and hour by hour: the reconciliation walks the view with it.
func (v *View) Each(view string, from, to int64, fn func(group string, hour int64, a *Aggregate) error) error {
	gs, err := v.Groups(view)
	if err != nil {
		return err
	}
	for _, g := range gs {
		hs, _ := v.Hours(view, g)
		for _, h := range hs {
			if h < from || h >= to {
				continue
			}
			a, err := v.Bucket(view, g, h)
			if err != nil {
				return err
			}
			if err := fn(g, h, &a); err != nil {
				return err
			}
		}
	}
	return nil
}

// Table is one node's columnar table, as Rows hands it out: readers of the
// batch view (serving) name it through this package, which is their one door
// into the batch layer (internal/layering checks it).
type Table = partial.Table

// Rows calls fn for every row of one group's buckets before the boundary, in
// increasing hour (a bucket split over nodes gives several rows of one hour):
// the serving layer builds its own index from them without the maps of
// Range.
func (v *View) Rows(view, group string, fn func(hour int64, t *Table, row int)) error {
	ix, ok := v.views[view]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownView, view)
	}
	for _, e := range ix.groups[group] {
		fn(e.hour, ix.tables[e.table], int(e.row))
	}
	return nil
}

// RowsBetween is Rows over the hours [from, to) only (a binary search, then
// the rows of those hours): the reconciliation walks the view a few days at
// a time with it.
func (v *View) RowsBetween(view, group string, from, to int64, fn func(hour int64, t *Table, row int)) error {
	ix, ok := v.views[view]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownView, view)
	}
	es := ix.groups[group]
	for i := sort.Search(len(es), func(i int) bool { return es[i].hour >= from }); i < len(es) && es[i].hour < to; i++ {
		fn(es[i].hour, ix.tables[es[i].table], int(es[i].row))
	}
	return nil
}

// FirstHour is the first hour with data of any view and group (the
// boundary when the view is empty).
func (v *View) FirstHour() int64 {
	first := v.Boundary
	for _, ix := range v.views {
		for _, es := range ix.groups {
			if len(es) > 0 && es[0].hour < first {
				first = es[0].hour
			}
		}
	}
	return first
}

// Release drops one view's tables and index: afterwards that view has no
// group. A reader that turns a loaded version into a form of its own
// (serving's batch index) releases each view once it has indexed it, so
// that its Arrow buffers (most of a loaded version's memory, decoded per
// buffer) can be collected while the next view is indexed. It must not run
// concurrently with reads of that view.
func (v *View) Release(view string) {
	if ix := v.views[view]; ix != nil {
		ix.groups, ix.tables = map[string][]entry{}, nil
	}
}
