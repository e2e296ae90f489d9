package store

import (
	"context"
	"errors"
	"fmt"

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
// into its group's sum. The sums carry no Quantiles and no Distinct (-1):
// the caller derives what it needs from the sketch (SumDistinct counts the
// destinations too).
func (r *Reader) Sums(ctx context.Context, view string, groups []string, from, to int64) ([]Bucket, error) {
	from, to = hourFloor(from), hourFloor(to-1)+3600
	out := make([]Bucket, len(groups))
	for i, g := range groups {
		out[i] = Bucket{View: view, Group: g, From: from, To: to - 3600, Distinct: -1}
	}
	err := r.read(ctx, view, groups, from, to, func(i int, _ int64, p string) error {
		return addPacked(&out[i], p, nil)
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
	err := r.read(ctx, view, []string{group}, from, to, func(_ int, h int64, p string) error {
		return addPacked(&out[(h-from)/3600], p, nil)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// read calls fn with the packed bucket of every group of groups (by index)
// in every hour of [from, to) that has one (see readHashes): one HMGET per
// partition's hour hash for the groups of that partition, the hours of
// sumsChunk buckets per pipelined round trip.
func (r *Reader) read(ctx context.Context, view string, groups []string, from, to int64, fn func(i int, hour int64, p string) error) error {
	if _, ok := r.views[view]; !ok {
		return fmt.Errorf("%w %q", ErrUnknownView, view)
	}
	if len(groups) == 0 || to <= from {
		return nil
	}
	fields := make([][]string, r.partitions)
	index := make([][]int, r.partitions)
	for i, g := range groups {
		p := keyspace.GroupPartition(g, r.partitions)
		fields[p] = append(fields[p], g)
		index[p] = append(index[p], i)
	}
	step := int64(max(1, min(hoursChunk, sumsChunk/len(groups)))) * 3600
	var reads []hashRead
	for lo := from; lo < to; lo += step {
		reads = reads[:0]
		for h := lo; h < min(to, lo+step); h += 3600 {
			for p, fs := range fields {
				if len(fs) > 0 {
					reads = append(reads, hashRead{view: view, key: r.keys.Hour(p, view, h), hour: h, fields: fs, index: index[p]})
				}
			}
		}
		if err := r.readHashes(ctx, reads, fn); err != nil {
			return err
		}
	}
	return nil
}

// hashRead is one HMGET of an hour hash: its fields are groups, and
// index[j] is the caller's index of fields[j].
type hashRead struct {
	view, key string
	hour      int64
	fields    []string
	index     []int
	cmd       *redis.SliceCmd
}

// readHashes sends the reads in one pipelined round trip and calls fn with
// every field that holds a packed bucket: the field's index, the hour, and
// the reply (decoded in place by unpack; an absent field is no bucket). It
// is the one read of buckets by group: Sums, Hourly, SumDistinct and
// Buckets plan their reads and decode through it.
func (r *Reader) readHashes(ctx context.Context, reads []hashRead, fn func(i int, hour int64, p string) error) error {
	if len(reads) == 0 {
		return nil
	}
	pipe := r.rdb.Pipeline()
	for k := range reads {
		reads[k].cmd = pipe.HMGet(ctx, reads[k].key, reads[k].fields...)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("read buckets: %w", err)
	}
	for k := range reads {
		rd := &reads[k]
		for j, val := range rd.cmd.Val() {
			p, ok := val.(string)
			if !ok {
				continue // nil: no bucket that hour
			}
			if err := fn(rd.index[j], rd.hour, p); err != nil {
				return fmt.Errorf("bucket %s %s %d: %w", rd.view, rd.fields[j], rd.hour, err)
			}
		}
	}
	return nil
}
