package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/speed/keyspace"
)

// HourDigests returns the digest of every hour of [from, to) (Unix seconds
// of hour starts) of a view, in increasing hour: the sum of the partitions'
// hour hashes' keyspace.FieldDigest, and their number of buckets (HLEN, the
// digest's field left out), hoursChunk commands per pipelined round trip.
// An hour is Present when any partition has buckets in it, and Complete
// when every existing hash has its digest. This is what the reconciliation
// compares before any bucket: two small replies per hour hash instead of
// its buckets.
func (r *Reader) HourDigests(ctx context.Context, view string, from, to int64) ([]flight.HourDigest, error) {
	if _, ok := r.views[view]; !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownView, view)
	}
	from, to = flight.Hour(from*1e6), flight.Hour((to-1)*1e6)+3600
	out := make([]flight.HourDigest, 0, max((to-from)/3600, 0))
	for h := from; h < to; h += 3600 {
		out = append(out, flight.HourDigest{Hour: h, Complete: true})
	}
	type read struct {
		sum *redis.StringCmd
		n   *redis.IntCmd
	}
	step := max(hoursChunk/(2*r.partitions), 1)
	reads := make([]read, 0, step*r.partitions)
	for lo := 0; lo < len(out); lo += step {
		hi := min(len(out), lo+step)
		pipe := r.rdb.Pipeline()
		reads = reads[:0]
		for i := lo; i < hi; i++ {
			for p := range r.partitions {
				k := r.keys.Hour(p, view, out[i].Hour)
				reads = append(reads, read{pipe.HGet(ctx, k, keyspace.FieldDigest), pipe.HLen(ctx, k)})
			}
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("digests of %s: %w", view, err)
		}
		for j, c := range reads {
			d := &out[lo+j/r.partitions]
			n := c.n.Val()
			if n == 0 {
				continue // no hash: nothing to add
			}
			d.Present = true
			if errors.Is(c.sum.Err(), redis.Nil) {
				// Written before the digest existed: the hour must be
				// compared bucket by bucket.
				d.Complete = false
				d.Buckets += n
				continue
			}
			sum, err := strconv.ParseUint(c.sum.Val(), 16, 64)
			if err != nil {
				return nil, fmt.Errorf("digest of %s %d partition %d: %w", view, d.Hour, j%r.partitions, err)
			}
			d.Sum += sum
			d.Buckets += n - 1
		}
	}
	return out, nil
}
