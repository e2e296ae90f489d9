package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

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
//
// It also holds the absolute digest (keyspace.FieldDigest) of the hour
// hashes it writes: loaded with their buckets (or 0 for an hour no flush
// wrote yet) and updated by each merged bucket's old and new hash, so that
// a flush writes the hour's digest in the same script call as its buckets
// (exactly once, like them).
type State struct {
	buckets map[agg.BucketID]string
	hours   map[hourID]*hourSum
	buf     []byte    // the packed values of the last flush (see Writer.build)
	touched []touched // the buckets of the last flush (see load)
	scratch state     // a bucket being merged (see Writer.build)
}

// hourID is one hour hash of the partition: a view (index) and an hour.
type hourID struct {
	view int
	hour int64
}

// hourSum is an hour hash's digest. known is false for a hash written
// without one (by a version before the digest): its digest would need every
// bucket of the hash, so none is written and the reconciliation compares
// that hour bucket by bucket.
type hourSum struct {
	sum   uint64
	known bool
}

// NewState returns an empty state.
func NewState() *State {
	return &State{buckets: map[agg.BucketID]string{}, hours: map[hourID]*hourSum{}}
}

// Len is the number of buckets held.
func (s *State) Len() int { return len(s.buckets) }

// Reset forgets every bucket (after a refused or failed flush, or a lost lease).
func (s *State) Reset() { clear(s.buckets); clear(s.hours); s.touched = s.touched[:0] }

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
	for id := range s.hours {
		if (id.hour+3600)*1e6 <= watermark {
			delete(s.hours, id)
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
		k := vh{id.View, id.Hour}
		if id.Hour*1e6 <= committedMax {
			_, digest := s.hours[hourID(k)]
			if !ok || !digest {
				if missing == nil {
					missing = map[vh][]int{}
				}
				if !ok {
					missing[k] = append(missing[k], len(s.touched))
				} else if _, listed := missing[k]; !listed {
					missing[k] = nil // the hour's digest only
				}
			}
		} else if _, digest := s.hours[hourID(k)]; !digest {
			// An hour no flush wrote: its hash does not exist yet.
			s.hours[hourID(k)] = &hourSum{known: true}
		}
		s.touched = append(s.touched, touched{id: id, d: d, packed: packed, held: ok})
	}
	if len(missing) == 0 {
		return nil
	}
	pipe := rdb.Pipeline()
	type read struct {
		vh
		idx  []int
		cmd  *redis.SliceCmd
		hlen *redis.IntCmd // nil: the hour's digest is held
	}
	reads := make([]read, 0, len(missing))
	for k, idx := range missing {
		fields := make([]string, len(idx), len(idx)+1)
		for j, i := range idx {
			fields[j] = s.touched[i].id.Group
		}
		key := keys.Hour(p, views[k.view].Name, k.hour)
		r := read{vh: k, idx: idx}
		if _, ok := s.hours[hourID(k)]; !ok {
			// The digest, and whether the hash exists without one.
			fields = append(fields, keyspace.FieldDigest)
			r.hlen = pipe.HLen(ctx, key)
		}
		r.cmd = pipe.HMGet(ctx, key, fields...)
		reads = append(reads, r)
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
		if r.hlen == nil {
			continue
		}
		h := &hourSum{known: r.hlen.Val() == 0} // no hash yet: the digest starts at 0
		if len(vals) > len(r.idx) {
			if v, ok := vals[len(r.idx)].(string); ok {
				sum, err := strconv.ParseUint(v, 16, 64)
				if err != nil {
					return fmt.Errorf("load digest of %s %d: %w", views[r.view].Name, r.hour, err)
				}
				h = &hourSum{sum: sum, known: true}
			}
		}
		s.hours[hourID(r.vh)] = h
	}
	return nil
}

// hash is a bucket's flight.BucketHash: its bins come in increasing order
// from the sketch, its destinations are kept sorted.
func hash(group string, b *state) uint64 {
	h := flight.NewBucketHash(group, b.stats)
	b.sketch.Each(h.Bin)
	for _, d := range b.dests {
		h.Dest(d)
	}
	return h.Sum()
}

// updateDigest replaces a bucket's old hash (0: it was empty) by its new one
// in its hour's digest. An hour not loaded (load always loads it) counts as
// unknown, like a hash without a digest.
func (s *State) updateDigest(id agg.BucketID, old, nu uint64) {
	h := s.hours[hourID{id.View, id.Hour}]
	if h == nil {
		h = &hourSum{}
		s.hours[hourID{id.View, id.Hour}] = h
	}
	h.sum += nu - old
}

// digest is the digest to write with an hour hash, ok false when unknown.
func (s *State) digest(view int, hour int64) (string, bool) {
	h := s.hours[hourID{view, hour}]
	if h == nil || !h.known {
		return "", false
	}
	return strconv.FormatUint(h.sum, 16), true
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
// until the next call: its destinations may point into t.packed), and the
// hash of its content before (0: it was empty).
func (s *State) merged(t *touched, v flight.View) (*state, uint64, error) {
	b := &s.scratch
	b.stats = flight.Stats{}
	b.sketch.Reset()
	b.dests = b.dests[:0]
	if t.packed != "" {
		var addDest func(string)
		if v.DistinctDestinations {
			// The packed string outlives b's use: its substrings serve
			// as the destinations without a copy.
			addDest = func(d string) { b.dests = append(b.dests, d) }
		}
		st, err := unpack(t.packed, &b.sketch, addDest)
		if err != nil {
			return nil, 0, fmt.Errorf("bucket %s %s %d: %w", v.Name, t.id.Group, t.id.Hour, err)
		}
		b.stats.Merge(st)
		if !slices.IsSorted(b.dests) {
			slices.Sort(b.dests) // pack writes them sorted: only a foreign writer would not
			b.dests = slices.Compact(b.dests)
		}
	}
	var old uint64
	if t.packed != "" {
		old = hash(t.id.Group, b)
	}
	b.merge(t.d)
	return b, old, nil
}

// merge adds d into b.
func (b *state) merge(d *agg.Delta) {
	b.stats.Merge(d.Stats)
	b.sketch.Merge(&d.Sketch)
	for dst := range d.Dests { // nil for views that do not count them
		b.addDest(dst)
	}
}
