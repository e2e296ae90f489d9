package serving

import (
	"sync"
	"time"
)

// answerCache memoizes merged answers. An answer over batch hours only is a
// function of the batch version, which is immutable: it is kept until the
// version changes. An answer with a speed part is kept for freshFor (the
// speed layer itself only moves once per flush). The cache is bounded: when
// full it starts over, which is cheap and good enough for the dashboards and
// repeated queries it serves.
type answerCache struct {
	mu       sync.Mutex
	max      int
	freshFor time.Duration
	entries  map[answerKey]cached
}

// answerKey names an answer: the view (or "top:<order>" for a top list),
// the group, and the plan's parts, which fix what was read.
type answerKey struct {
	version      int64
	view, group  string
	from, to     int64
	batchTo      int64
	speedFrom    int64
	speedTo      int64
	withDistinct bool
}

type cached struct {
	v       any
	expires time.Time // zero: until the version changes
}

func newAnswerCache(max int, freshFor time.Duration) *answerCache {
	return &answerCache{max: max, freshFor: freshFor, entries: map[answerKey]cached{}}
}

func (c *answerCache) get(k answerKey) (any, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok || (!e.expires.IsZero() && time.Now().After(e.expires)) {
		return nil, false
	}
	return e.v, true
}

func (c *answerCache) put(k answerKey, v any, fresh bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		clear(c.entries)
	}
	e := cached{v: v}
	if fresh {
		e.expires = time.Now().Add(c.freshFor)
	}
	c.entries[k] = e
}
