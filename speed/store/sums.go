package store

import (
	"context"
	"errors"
	"fmt"
	"unsafe"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/speed/keyspace"
)

// sumsChunk bounds the buckets one round trip of Sums and Hourly asks for:
// the memory of a read is that of a chunk (a few hundred KB of replies),
// whatever its range.
const sumsChunk = 4096

// Sums merges, for each of groups, its buckets of a view over the hours
// [from, to) (Unix seconds of hour starts): out[i] is groups[i]'s stats and
// sketch. It is the serving read path (a top list reads every airport's
// hours): one HMGET per hour hash for all the groups of its partition,
// several hours per pipelined round trip, and each bucket decoded straight
// into its group's sum, without the maps, copies and quantiles of Buckets
// and Range. The sums carry no Quantiles and no Distinct (-1): the caller
// derives what it needs from the sketch (and Distinct counts destinations).
func (r *Reader) Sums(ctx context.Context, view string, groups []string, from, to int64) ([]Bucket, error) {
	from, to = hourFloor(from), hourFloor(to-1)+3600
	out := make([]Bucket, len(groups))
	for i, g := range groups {
		out[i] = Bucket{View: view, Group: g, From: from, To: to - 3600, Distinct: -1}
	}
	err := r.read(ctx, view, groups, from, to, func(i int, _ int64, p []byte) error {
		return unpackTo(p, &out[i].Stats, &out[i].Sketch, nil)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Hourly reads one group's bucket of every hour of [from, to) (Unix seconds
// of hour starts), in the order of the hours; an hour without data has
// Count 0. Like Sums, the buckets carry no Quantiles and no Distinct (-1).
func (r *Reader) Hourly(ctx context.Context, view, group string, from, to int64) ([]Bucket, error) {
	from, to = hourFloor(from), hourFloor(to-1)+3600
	if to <= from {
		return nil, nil
	}
	out := make([]Bucket, (to-from)/3600)
	for i := range out {
		h := from + int64(i)*3600
		out[i] = Bucket{View: view, Group: group, From: h, To: h, Distinct: -1}
	}
	err := r.read(ctx, view, []string{group}, from, to, func(_ int, h int64, p []byte) error {
		b := &out[(h-from)/3600]
		return unpackTo(p, &b.Stats, &b.Sketch, nil)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// read calls fn with the packed bucket of every group of groups (by index)
// in every hour of [from, to) that has one. p is the reply's bytes, valid
// only during the call and read only.
func (r *Reader) read(ctx context.Context, view string, groups []string, from, to int64, fn func(i int, hour int64, p []byte) error) error {
	if _, ok := r.views[view]; !ok {
		return fmt.Errorf("%w %q", ErrUnknownView, view)
	}
	if len(groups) == 0 || to <= from {
		return nil
	}
	// The groups of each partition: one HMGET per partition's hour hash.
	fields := make([][]string, r.partitions)
	index := make([][]int, r.partitions)
	for i, g := range groups {
		p := keyspace.GroupPartition(g, r.partitions)
		fields[p] = append(fields[p], g)
		index[p] = append(index[p], i)
	}
	type hmget struct {
		part int
		hour int64
		cmd  *redis.SliceCmd
	}
	step := int64(max(1, min(hoursChunk, sumsChunk/len(groups)))) * 3600
	var cmds []hmget
	for lo := from; lo < to; lo += step {
		pipe := r.rdb.Pipeline()
		cmds = cmds[:0]
		for h := lo; h < min(to, lo+step); h += 3600 {
			for p, fs := range fields {
				if len(fs) > 0 {
					cmds = append(cmds, hmget{p, h, pipe.HMGet(ctx, r.keys.Hour(p, view, h), fs...)})
				}
			}
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("read %s buckets: %w", view, err)
		}
		for _, c := range cmds {
			for j, val := range c.cmd.Val() {
				s, ok := val.(string)
				if !ok {
					continue // nil: no bucket that hour
				}
				// Decoded in place: unpackTo only reads it.
				p := unsafe.Slice(unsafe.StringData(s), len(s))
				if err := fn(index[c.part][j], c.hour, p); err != nil {
					return fmt.Errorf("bucket %s %s %d: %w", view, fields[c.part][j], c.hour, err)
				}
			}
		}
	}
	return nil
}
