package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/speed/keyspace"
)

// Reader reads the speed layer's views. It is safe for concurrent use.
type Reader struct {
	rdb   redis.Cmdable
	keys  keyspace.Keys
	views map[string]flight.View
}

// NewReader returns a reader of the views under keyPrefix.
func NewReader(rdb redis.Cmdable, keyPrefix string) *Reader {
	vs := map[string]flight.View{}
	for _, v := range flight.Views() {
		vs[v.Name] = v
	}
	return &Reader{rdb: rdb, keys: keyspace.New(keyPrefix), views: vs}
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

// Buckets reads many buckets in one pipelined round trip, in the order of refs.
func (r *Reader) Buckets(ctx context.Context, refs []Ref) ([]Bucket, error) {
	pipe := r.rdb.Pipeline()
	hs := make([]*redis.MapStringStringCmd, len(refs))
	ds := make([]*redis.IntCmd, len(refs))
	for i, ref := range refs {
		v, ok := r.views[ref.View]
		if !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownView, ref.View)
		}
		hs[i] = pipe.HGetAll(ctx, r.keys.Bucket(ref.View, ref.Group, ref.Hour))
		if v.DistinctDestinations {
			ds[i] = pipe.PFCount(ctx, r.keys.Distinct(ref.View, ref.Group, ref.Hour))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read buckets: %w", err)
	}
	out := make([]Bucket, len(refs))
	for i, ref := range refs {
		b := Bucket{View: ref.View, Group: ref.Group, From: ref.Hour, To: ref.Hour, Distinct: -1}
		if err := addHash(&b, hs[i].Val()); err != nil {
			return nil, fmt.Errorf("bucket %v: %w", ref, err)
		}
		if ds[i] != nil {
			b.Distinct = ds[i].Val()
		}
		finish(&b)
		out[i] = b
	}
	return out, nil
}

// Range merges the buckets of one group over the hours [from, to] (Unix
// seconds of hour starts) in one pipelined round trip: stats and sketch bins
// are added, and the distinct destinations are one PFCOUNT over every hour's
// HyperLogLog (the union, not a sum).
func (r *Reader) Range(ctx context.Context, view, group string, from, to int64) (Bucket, error) {
	v, ok := r.views[view]
	if !ok {
		return Bucket{}, fmt.Errorf("%w %q", ErrUnknownView, view)
	}
	from, to = flight.Hour(from*1e6), flight.Hour(to*1e6)
	if to < from {
		return Bucket{}, fmt.Errorf("range [%d, %d] is empty", from, to)
	}
	pipe := r.rdb.Pipeline()
	var hs []*redis.MapStringStringCmd
	var hll []string
	for h := from; h <= to; h += 3600 {
		hs = append(hs, pipe.HGetAll(ctx, r.keys.Bucket(view, group, h)))
		hll = append(hll, r.keys.Distinct(view, group, h))
	}
	var dc *redis.IntCmd
	if v.DistinctDestinations {
		dc = pipe.PFCount(ctx, hll...)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return Bucket{}, fmt.Errorf("read range: %w", err)
	}
	b := Bucket{View: view, Group: group, From: from, To: to, Distinct: -1}
	for _, h := range hs {
		if err := addHash(&b, h.Val()); err != nil {
			return Bucket{}, fmt.Errorf("range %s %s: %w", view, group, err)
		}
	}
	if dc != nil {
		b.Distinct = dc.Val()
	}
	finish(&b)
	return b, nil
}

// Groups lists the groups that have a bucket in one hour of a view.
func (r *Reader) Groups(ctx context.Context, view string, hour int64) ([]string, error) {
	gs, err := r.rdb.SMembers(ctx, r.keys.Groups(view, hour)).Result()
	if err != nil {
		return nil, fmt.Errorf("groups of %s at %d: %w", view, hour, err)
	}
	return gs, nil
}

// groupsChunk bounds the SMEMBERS of one pipeline.
const groupsChunk = 1000

// GroupsByHour returns, for every hour of [from, to) (Unix seconds of hour
// starts) in which the view has buckets, the groups that have one.
func (r *Reader) GroupsByHour(ctx context.Context, view string, from, to int64) (map[int64][]string, error) {
	out := map[int64][]string{}
	var hours []int64
	for h := from; h < to; h += 3600 {
		hours = append(hours, h)
	}
	for lo := 0; lo < len(hours); lo += groupsChunk {
		chunk := hours[lo:min(lo+groupsChunk, len(hours))]
		pipe := r.rdb.Pipeline()
		cmds := make([]*redis.StringSliceCmd, len(chunk))
		for i, h := range chunk {
			cmds[i] = pipe.SMembers(ctx, r.keys.Groups(view, h))
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("groups of %s: %w", view, err)
		}
		for i, c := range cmds {
			if gs := c.Val(); len(gs) > 0 {
				out[chunk[i]] = gs
			}
		}
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

// Quarantine returns the newest n quarantined messages, oldest first.
func (r *Reader) Quarantine(ctx context.Context, n int64) ([]QuarantineEntry, error) {
	ss, err := r.rdb.LRange(ctx, r.keys.Quarantine(), -n, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("quarantine: %w", err)
	}
	out := make([]QuarantineEntry, 0, len(ss))
	for _, s := range ss {
		q, err := DecodeQuarantine(s)
		if err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, nil
}

// addHash merges one stored bucket hash into b.
func addHash(b *Bucket, m map[string]string) error {
	if len(m) == 0 {
		return nil
	}
	var s flight.Stats
	for _, f := range []struct {
		name string
		dst  *int64
	}{{keyspace.FieldCount, &s.Count}, {keyspace.FieldSum, &s.Sum}, {keyspace.FieldDelayed, &s.Delayed}} {
		n, err := strconv.ParseInt(m[f.name], 10, 64)
		if err != nil {
			return fmt.Errorf("field %s: %w", f.name, err)
		}
		*f.dst = n
	}
	for _, f := range []struct {
		name string
		dst  *int32
	}{{keyspace.FieldMin, &s.Min}, {keyspace.FieldMax, &s.Max}} {
		n, err := strconv.ParseInt(m[f.name], 10, 32)
		if err != nil {
			return fmt.Errorf("field %s: %w", f.name, err)
		}
		*f.dst = int32(n)
	}
	b.Stats.Merge(s)
	for k, v := range m {
		bin, ok := strings.CutPrefix(k, keyspace.BinPrefix)
		if !ok {
			continue
		}
		bi, err1 := strconv.ParseInt(bin, 10, 32)
		n, err2 := strconv.ParseInt(v, 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("sketch bin %s=%s: %w", k, v, err)
		}
		b.Sketch.AddBin(int32(bi), n)
	}
	return nil
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
