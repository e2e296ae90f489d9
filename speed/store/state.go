package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"unsafe"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/speed/agg"
	"github.com/tributary-dev/tributary/speed/keyspace"
)

// State is the absolute content of the buckets one partition touched
// recently, kept by the partition's owner between flushes so that a flush
// writes absolute values instead of having Redis merge deltas. It is exact
// because every bucket is written by exactly one partition (events are
// partitioned by origin, and every view's group starts with the origin) and a
// partition has one fenced owner: nothing else changes the buckets it holds.
// Buckets are loaded from Redis on first touch; Evict drops the hours that no
// event can reach any more. Not safe for concurrent use.
//
// A bucket is held packed, as Redis holds it: a flush writes that form, most
// buckets are written once (a route's hour holds a flight or two), and a
// packed bucket is a single allocation without pointers (nothing for the
// garbage collector to scan) where a decoded one was several.
type State struct {
	buckets map[agg.BucketID]string
	buf     []byte    // the packed values of the last flush (see Writer.build)
	touched []touched // the buckets of the last flush (see load)
	scratch state     // a bucket being merged (see Writer.build)
}

// NewState returns an empty state.
func NewState() *State { return &State{buckets: map[agg.BucketID]string{}} }

// Len is the number of buckets held.
func (s *State) Len() int { return len(s.buckets) }

// Reset forgets every bucket (after a refused or failed flush, or a lost lease).
func (s *State) Reset() { clear(s.buckets); s.touched = s.touched[:0] }

// Evict drops the buckets of the hours that end at or before watermark (µs):
// events older than the watermark are late and not applied, so those
// buckets rarely change any more. The exception, an event that fills a gap
// in its producer's seqs (package agg), stays exact: a flush loads from
// Redis every bucket it touches that s does not hold. 0 evicts nothing.
func (s *State) Evict(watermark int64) {
	if watermark <= 0 {
		return
	}
	for id := range s.buckets {
		if (id.Hour+3600)*1e6 <= watermark {
			delete(s.buckets, id)
		}
	}
}

// load lists in s.touched every bucket of pending, partition p's, with its
// delta and its packed content before the flush. The buckets s does not hold
// are read from Redis in one pipelined round trip (one HMGET per hour hash),
// except when their hour comes after committedMax (the partition's
// committed highest event time, µs): such a bucket cannot be in Redis,
// since a flush writes its buckets and that time in one script and no
// applied event was in such an hour, so it starts empty. The hours a
// partition catches up on are all new: reading them was an eighth of the
// worker's CPU and half its Redis commands.
func (s *State) load(ctx context.Context, rdb redis.Cmdable, keys keyspace.Keys, p int, views []flight.View, pending map[agg.BucketID]*agg.Delta, committedMax int64) error {
	type vh struct {
		view int
		hour int64
	}
	s.touched = s.touched[:0]
	var missing map[vh][]int // indexes into s.touched
	for id, d := range pending {
		packed, ok := s.buckets[id]
		if !ok && id.Hour*1e6 <= committedMax {
			if missing == nil {
				missing = map[vh][]int{}
			}
			k := vh{id.View, id.Hour}
			missing[k] = append(missing[k], len(s.touched))
		}
		s.touched = append(s.touched, touched{id: id, d: d, packed: packed, held: ok})
	}
	if len(missing) == 0 {
		return nil
	}
	pipe := rdb.Pipeline()
	type read struct {
		vh
		idx []int
		cmd *redis.SliceCmd
	}
	reads := make([]read, 0, len(missing))
	for k, idx := range missing {
		groups := make([]string, len(idx))
		for j, i := range idx {
			groups[j] = s.touched[i].id.Group
		}
		reads = append(reads, read{k, idx, pipe.HMGet(ctx, keys.Hour(p, views[k.view].Name, k.hour), groups...)})
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("load buckets: %w", err)
	}
	for _, r := range reads {
		vals := r.cmd.Val()
		for j, i := range r.idx {
			if j < len(vals) {
				if v, ok := vals[j].(string); ok {
					s.touched[i].packed = v
				}
			}
		}
	}
	return nil
}

// touched is one bucket of a flush: its delta and its packed content
// before the flush ("" when empty).
type touched struct {
	id     agg.BucketID
	d      *agg.Delta
	packed string
	held   bool // in s.buckets before the flush
}

// merged returns t's bucket with its delta merged, in s.scratch (valid
// until the next call: its destinations may point into t.packed).
func (s *State) merged(t *touched, v flight.View) (*state, error) {
	b := &s.scratch
	b.stats = flight.Stats{}
	b.sketch.Reset()
	b.dests = b.dests[:0]
	if t.packed != "" {
		var addDest func([]byte)
		if v.DistinctDestinations {
			// The packed string is immutable and outlives b's use: its
			// bytes serve as the destinations without a copy.
			addDest = func(d []byte) { b.dests = append(b.dests, unsafe.String(unsafe.SliceData(d), len(d))) }
		}
		p := unsafe.Slice(unsafe.StringData(t.packed), len(t.packed))
		if err := unpackTo(p, &b.stats, &b.sketch, addDest); err != nil {
			return nil, fmt.Errorf("bucket %s %s %d: %w", v.Name, t.id.Group, t.id.Hour, err)
		}
		if !slices.IsSorted(b.dests) {
			slices.Sort(b.dests) // pack writes them sorted: only a foreign writer would not
			b.dests = slices.Compact(b.dests)
		}
	}
	b.merge(t.d)
	return b, nil
}

// merge adds d into b.
func (b *state) merge(d *agg.Delta) {
	b.stats.Merge(d.Stats)
	b.sketch.Merge(&d.Sketch)
	for dst := range d.Dests { // nil for views that do not count them
		b.addDest(dst)
	}
}
