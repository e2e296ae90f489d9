package serving

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/batch/view"
	"github.com/tributary-dev/tributary/flight"
)

// BatchCache is the BatchSource of a server: it keeps the current version of
// the batch view in memory and loads a new one when the switch moves. It
// looks at the switch at most every Recheck, so that a request costs no
// Redis round trip for its batch part.
type BatchCache struct {
	rdb       redis.Cmdable
	keyPrefix string
	recheck   time.Duration

	mu      sync.Mutex
	checked time.Time
	cur     *loadedView
}

// NewBatchCache returns a cache of the batch view under keyPrefix.
func NewBatchCache(rdb redis.Cmdable, keyPrefix string, recheck time.Duration) *BatchCache {
	return &BatchCache{rdb: rdb, keyPrefix: keyPrefix, recheck: recheck}
}

// Current returns the current batch view, nil when none is published.
func (c *BatchCache) Current(ctx context.Context) (BatchView, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.checked) < c.recheck {
		return c.view(), nil
	}
	m, err := view.Current(ctx, c.rdb, c.keyPrefix)
	if errors.Is(err, view.ErrNoView) {
		c.cur, c.checked = nil, time.Now()
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if c.cur == nil || c.cur.Manifest.Version != m.Version {
		// Loading holds the lock: concurrent requests wait for one load
		// rather than each loading the same version.
		v, err := view.LoadManifest(ctx, c.rdb, m)
		if err != nil {
			return nil, err
		}
		c.cur = newLoadedView(v)
		// Build the airport view's daily rollups now rather than on the
		// first query of each airport: a cold airport otherwise costs its
		// first caller a full pass over its hours.
		go c.cur.warm()
	}
	c.checked = time.Now()
	return c.view(), nil
}

func (c *BatchCache) view() BatchView {
	if c.cur == nil {
		return nil
	}
	return c.cur
}

// loadedView adapts a batch view.View to BatchView. A month-long range is
// ~744 hourly buckets; merging their histograms and destination sets costs
// milliseconds. So the first query of a group builds its daily rollups, and
// later ranges merge at most 2×23 hours and one bucket per whole day.
type loadedView struct {
	*view.View
	first, end int64

	mu      sync.Mutex
	rollups map[string]map[int64]*BatchRange // view + "\x00" + group -> day -> aggregate
}

const day = 24 * 3600

func newLoadedView(v *view.View) *loadedView {
	lv := &loadedView{View: v, rollups: map[string]map[int64]*BatchRange{}}
	for _, d := range flight.Views() {
		gs, _ := v.Groups(d.Name)
		for _, g := range gs {
			hs, _ := v.Hours(d.Name, g)
			if len(hs) == 0 {
				continue
			}
			if lv.end == 0 || hs[0] < lv.first {
				lv.first = hs[0]
			}
			lv.end = max(lv.end, hs[len(hs)-1]+3600)
		}
		break // the first view holds every flight: its span is the data's
	}
	return lv
}

func (l *loadedView) Version() int64         { return l.Manifest.Version }
func (l *loadedView) Boundary() int64        { return l.Manifest.Boundary }
func (l *loadedView) PublishedAt() time.Time { return l.Manifest.PublishedAt }
func (l *loadedView) Span() (int64, int64)   { return l.first, l.end }

func (l *loadedView) Groups(name string) []string {
	gs, _ := l.View.Groups(name)
	return gs
}

func (l *loadedView) Range(name, group string, from, to int64) BatchRange {
	to = min(to, l.Manifest.Boundary)
	firstDay := (from + day - 1) / day * day
	lastDay := to / day * day
	if lastDay-firstDay < 2*day {
		return l.hours(name, group, from, to)
	}
	out := l.hours(name, group, from, firstDay)
	days := l.rollup(name, group)
	for d := firstDay; d < lastDay; d += day {
		if r := days[d]; r != nil {
			mergeRange(&out, r)
		}
	}
	tail := l.hours(name, group, lastDay, to)
	mergeRange(&out, &tail)
	return out
}

// warm builds the daily rollups of every group of the views that count
// destinations (the airport view: a few hundred groups).
func (l *loadedView) warm() {
	for _, d := range flight.Views() {
		if !d.DistinctDestinations {
			continue
		}
		for _, g := range l.Groups(d.Name) {
			l.rollup(d.Name, g)
		}
	}
}

// hours merges hourly buckets straight from the view.
func (l *loadedView) hours(name, group string, from, to int64) BatchRange {
	if to <= from {
		return l.empty(name)
	}
	a, err := l.View.Range(name, group, from, to)
	if err != nil {
		return BatchRange{}
	}
	return BatchRange{Stats: a.Stats, Hist: a.Hist, Destinations: a.Destinations}
}

func (l *loadedView) empty(name string) BatchRange {
	for _, d := range flight.Views() {
		if d.Name == name && d.DistinctDestinations {
			return BatchRange{Destinations: map[string]struct{}{}}
		}
	}
	return BatchRange{}
}

func mergeRange(dst, src *BatchRange) {
	dst.Stats.Merge(src.Stats)
	dst.Hist.Merge(&src.Hist)
	if dst.Destinations != nil {
		for d := range src.Destinations {
			dst.Destinations[d] = struct{}{}
		}
	}
}

// rollup returns a group's daily aggregates, building them on first use.
func (l *loadedView) rollup(name, group string) map[int64]*BatchRange {
	key := name + "\x00" + group
	l.mu.Lock()
	defer l.mu.Unlock()
	if r, ok := l.rollups[key]; ok {
		return r
	}
	hs, _ := l.View.Hours(name, group)
	r := map[int64]*BatchRange{}
	for _, h := range hs {
		d := h / day * day
		if r[d] == nil {
			a := l.hours(name, group, d, min(d+day, l.Manifest.Boundary))
			r[d] = &a
		}
	}
	l.rollups[key] = r
	return r
}
