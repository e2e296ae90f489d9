package store

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/speed/keyspace"
)

// Reader reads the speed layer's views. It is safe for concurrent use.
//
// Every partition keeps its own hash per hour and view (keyspace.Hour), so
// that a flush touches one Redis Cluster slot: a reader of one group reads
// the one partition holding it (keyspace.GroupPartition), a reader of every
// group of an hour reads the hour's hash of each partition, in one pipeline
// (which a cluster client splits per node).
type Reader struct {
	rdb        redis.Cmdable
	keys       keyspace.Keys
	partitions int
	views      map[string]flight.View
	digests    *redis.Script
}

// NewReader returns a reader of the views under keyPrefix written by
// partitions stream partitions (the --partitions setting).
func NewReader(rdb redis.Cmdable, keyPrefix string, partitions int) *Reader {
	return &Reader{rdb: rdb, keys: keyspace.New(keyPrefix), partitions: max(partitions, 1), views: viewsByName(),
		digests: redis.NewScript(digestsSource)}
}

func viewsByName() map[string]flight.View {
	vs := map[string]flight.View{}
	for _, v := range flight.Views() {
		vs[v.Name] = v
	}
	return vs
}

// hourKey is the hash holding group's bucket of one hour of a view.
func (r *Reader) hourKey(view, group string, hour int64) string {
	return r.keys.Hour(keyspace.GroupPartition(group, r.partitions), view, hour)
}

// Quantile is one served percentile.
type Quantile = flight.Quantile

// Bucket is the speed layer's answer for one group over one or more hours.
type Bucket = flight.Summary

// Ref names one bucket.
type Ref = flight.BucketRef

// ErrUnknownView is returned for a view that flight.Views() does not define.
var ErrUnknownView = errors.New("unknown view")

// Bucket reads one bucket; a bucket without data has Count 0.
func (r *Reader) Bucket(ctx context.Context, view, group string, hour int64) (Bucket, error) {
	bs, err := r.Buckets(ctx, []Ref{{View: view, Group: group, Hour: hour}})
	if err != nil {
		return Bucket{}, err
	}
	return bs[0], nil
}

// Buckets reads many buckets in one pipelined round trip (one HMGET per
// hour hash), in the order of refs.
func (r *Reader) Buckets(ctx context.Context, refs []Ref) ([]Bucket, error) {
	idx := map[string][]int{} // hour hash -> refs
	for i, ref := range refs {
		if _, ok := r.views[ref.View]; !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownView, ref.View)
		}
		k := r.hourKey(ref.View, ref.Group, ref.Hour)
		idx[k] = append(idx[k], i)
	}
	pipe := r.rdb.Pipeline()
	cmds := make(map[string]*redis.SliceCmd, len(idx))
	for k, is := range idx {
		fields := make([]string, len(is))
		for j, i := range is {
			fields[j] = refs[i].Group
		}
		cmds[k] = pipe.HMGet(ctx, k, fields...)
	}
	if len(cmds) > 0 {
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("read buckets: %w", err)
		}
	}
	out := make([]Bucket, len(refs))
	for k, is := range idx {
		vals := cmds[k].Val()
		for j, i := range is {
			ref := refs[i]
			b := Bucket{View: ref.View, Group: ref.Group, From: ref.Hour, To: ref.Hour, Distinct: -1}
			var dests map[string]struct{}
			if r.views[ref.View].DistinctDestinations {
				dests = map[string]struct{}{}
			}
			if j < len(vals) {
				if err := addPacked(&b, vals[j], dests); err != nil {
					return nil, fmt.Errorf("bucket %v: %w", ref, err)
				}
			}
			if dests != nil {
				b.Distinct = int64(len(dests))
			}
			finish(&b)
			out[i] = b
		}
	}
	return out, nil
}

// Range merges the buckets of one group over the hours [from, to] (Unix
// seconds of hour starts) in one pipelined round trip: stats and sketch bins
// are added, and the distinct destinations are the size of the union of the
// hours' exact sets.
func (r *Reader) Range(ctx context.Context, view, group string, from, to int64) (Bucket, error) {
	v, ok := r.views[view]
	if !ok {
		return Bucket{}, fmt.Errorf("%w %q", ErrUnknownView, view)
	}
	from, to = flight.Hour(from*1e6), flight.Hour(to*1e6)
	if to < from {
		return Bucket{}, fmt.Errorf("range [%d, %d] is empty", from, to)
	}
	b := Bucket{View: view, Group: group, From: from, To: to, Distinct: -1}
	var dests map[string]struct{}
	if v.DistinctDestinations {
		dests = map[string]struct{}{}
	}
	if err := r.hours(ctx, view, group, from, to+3600, func(val any) error { return addPacked(&b, val, dests) }); err != nil {
		return Bucket{}, fmt.Errorf("range %s %s: %w", view, group, err)
	}
	if dests != nil {
		b.Distinct = int64(len(dests))
	}
	finish(&b)
	return b, nil
}

// hoursChunk bounds the commands of one pipeline.
const hoursChunk = 1000

// hours calls fn with the packed bucket of group in every hour of [from, to)
// that has one, reading chunks of hoursChunk hours per round trip.
func (r *Reader) hours(ctx context.Context, view, group string, from, to int64, fn func(any) error) error {
	for lo := from; lo < to; lo += hoursChunk * 3600 {
		pipe := r.rdb.Pipeline()
		var cmds []*redis.StringCmd
		for h := lo; h < min(to, lo+hoursChunk*3600); h += 3600 {
			cmds = append(cmds, pipe.HGet(ctx, r.hourKey(view, group, h), group))
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		for _, c := range cmds {
			if c.Err() != nil {
				continue // redis.Nil: no bucket that hour
			}
			if err := fn(c.Val()); err != nil {
				return err
			}
		}
	}
	return nil
}

// Groups lists the groups that have a bucket in one hour of a view.
func (r *Reader) Groups(ctx context.Context, view string, hour int64) ([]string, error) {
	byHour, err := r.GroupsByHour(ctx, view, hour, hour+3600)
	if err != nil {
		return nil, err
	}
	return byHour[hour], nil
}

// GroupsByHour returns, for every hour of [from, to) (Unix seconds of hour
// starts) in which the view has buckets, the groups that have one: the
// union of the partitions' hour hashes (disjoint: a group is in one
// partition), hoursChunk hashes per pipelined round trip.
func (r *Reader) GroupsByHour(ctx context.Context, view string, from, to int64) (map[int64][]string, error) {
	type hk struct {
		hour int64
		cmd  *redis.StringSliceCmd
	}
	out := map[int64][]string{}
	var pending []hk
	var pipe redis.Pipeliner
	exec := func() error {
		if len(pending) == 0 {
			return nil
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("groups of %s: %w", view, err)
		}
		for _, c := range pending {
			for _, g := range c.cmd.Val() {
				if g != keyspace.FieldDigest {
					out[c.hour] = append(out[c.hour], g)
				}
			}
		}
		pending = pending[:0]
		return nil
	}
	for h := from; h < to; h += 3600 {
		for p := range r.partitions {
			if len(pending) == 0 {
				pipe = r.rdb.Pipeline()
			}
			pending = append(pending, hk{h, pipe.HKeys(ctx, r.keys.Hour(p, view, h))})
			if len(pending) == hoursChunk {
				if err := exec(); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := exec(); err != nil {
		return nil, err
	}
	return out, nil
}

// Partition reads partition p's committed progress and totals.
func (r *Reader) Partition(ctx context.Context, p int) (PartitionState, error) {
	m, err := r.rdb.HGetAll(ctx, r.keys.Partition(p)).Result()
	if err != nil {
		return PartitionState{}, fmt.Errorf("partition %d: %w", p, err)
	}
	return parseProgress(m)
}

// Quarantine returns the newest n quarantined messages of all partitions,
// oldest first: the newest n of each partition's list, merged by time.
func (r *Reader) Quarantine(ctx context.Context, n int64) ([]QuarantineEntry, error) {
	pipe := r.rdb.Pipeline()
	cmds := make([]*redis.StringSliceCmd, r.partitions)
	for p := range cmds {
		cmds[p] = pipe.LRange(ctx, r.keys.Quarantine(p), -n, -1)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("quarantine: %w", err)
	}
	var out []QuarantineEntry
	for _, c := range cmds {
		for _, s := range c.Val() {
			q, err := DecodeQuarantine(s)
			if err != nil {
				return nil, err
			}
			out = append(out, q)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	if int64(len(out)) > n {
		out = out[int64(len(out))-n:]
	}
	return out, nil
}

// addPacked merges one packed bucket (an HMGET/HGET reply value; nil when
// absent) into b, and its destinations into dests when not nil.
func addPacked(b *Bucket, val any, dests map[string]struct{}) error {
	p, ok := val.(string)
	if !ok {
		return nil
	}
	return unpack([]byte(p), &b.Stats, &b.Sketch, dests)
}

func finish(b *Bucket) {
	b.RelativeError = flight.SketchRelativeAccuracy
	qs := flight.Percentiles()
	vals, ok := b.Sketch.Quantiles(qs...)
	if !ok {
		return
	}
	for i, q := range qs {
		b.Quantiles = append(b.Quantiles, Quantile{Q: q, Name: flight.PercentileName(q), Value: vals[i]})
	}
}
