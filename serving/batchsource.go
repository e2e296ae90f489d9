package serving

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/batch/view"
	"github.com/tributary-dev/tributary/serving/batchindex"
)

// BatchCache is the BatchSource of a server: it keeps the current version of
// the batch view in memory, indexed (serving/batchindex), and loads a new
// one when the switch moves. It looks at the switch at most every Recheck,
// so that a request costs no Redis round trip for its batch part. A new
// version loads in the background while the previous one keeps answering;
// only the first load, with nothing to answer from, makes requests wait.
type BatchCache struct {
	rdb       redis.Cmdable
	keyPrefix string
	recheck   time.Duration

	mu      sync.Mutex
	checked time.Time
	cur     *loadedView
	loading int64 // the version being loaded in the background, 0: none
	loadErr error // the last background load's failure, retried at the next check
}

// loadTimeout bounds one load of a version (reading its nodes, indexing).
const loadTimeout = 5 * time.Minute

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
	switch {
	case c.cur == nil:
		// Nothing to answer from: load now, holding the lock, so that
		// concurrent requests wait for one load rather than each loading
		// the same version.
		lv, err := load(ctx, c.rdb, m)
		if err != nil {
			return nil, err
		}
		c.cur = lv
	case c.cur.version != m.Version && c.loading == 0 && m.Version > c.cur.version:
		c.loading = m.Version
		go c.loadInBackground(m)
	}
	c.checked = time.Now()
	return c.view(), nil
}

// LoadError is the last background load's failure (nil: none), for /v1/status
// and tests; the load is retried at the next check of the switch.
func (c *BatchCache) LoadError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loadErr
}

func (c *BatchCache) loadInBackground(m view.Manifest) {
	ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
	defer cancel()
	lv, err := load(ctx, c.rdb, m)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loading, c.loadErr = 0, err
	if err == nil && (c.cur == nil || lv.version > c.cur.version) {
		c.cur = lv
	}
	// Look at the switch again at the next request: a newer version may
	// have been published meanwhile, or this load must be retried.
	c.checked = time.Time{}
}

func (c *BatchCache) view() BatchView {
	if c.cur == nil {
		return nil
	}
	return c.cur
}

// load reads the version m describes and indexes it; the Arrow buffers are
// dropped once indexed.
func load(ctx context.Context, rdb redis.Cmdable, m view.Manifest) (*loadedView, error) {
	v, err := view.LoadManifest(ctx, rdb, m)
	if err != nil {
		return nil, err
	}
	ix, err := batchindex.Build(v)
	if err != nil {
		return nil, fmt.Errorf("batch view %d: %w", m.Version, err)
	}
	return &loadedView{version: m.Version, boundary: m.Boundary, publishedAt: m.PublishedAt, ix: ix}, nil
}

// loadedView adapts a batchindex.Index to BatchView.
type loadedView struct {
	version     int64
	boundary    int64
	publishedAt time.Time
	ix          *batchindex.Index
}

func (l *loadedView) Version() int64              { return l.version }
func (l *loadedView) Boundary() int64             { return l.boundary }
func (l *loadedView) PublishedAt() time.Time      { return l.publishedAt }
func (l *loadedView) Span() (int64, int64)        { return l.ix.Span() }
func (l *loadedView) Groups(name string) []string { return l.ix.Groups(name) }

func (l *loadedView) Range(name, group string, from, to int64) BatchRange {
	a := l.ix.Range(name, group, from, to)
	br := BatchRange{Stats: a.Stats(), release: a.Release}
	if br.Stats.Count > 0 {
		br.Hist = a
	}
	if a.Distinct() {
		br.Destinations = a
	}
	return br
}
