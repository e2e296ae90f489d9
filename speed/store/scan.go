package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/speed/keyspace"
)

// scanChunk is the number of hours (whole hour hashes) read per round trip
// by ScanHours: a route view's hour holds ~500 buckets of ~25 bytes, so a
// round trip carries ~0.5 MB and the caller holds one chunk at a time.
const scanChunk = 32

// ScanHours calls fn for every bucket of a view in the hours [from, to)
// (Unix seconds of hour starts), hour after hour and each bucket once; the
// order of the groups within an hour is unspecified. It reads whole hour
// hashes (every partition's), scanChunk hours per pipelined round trip, and
// decodes them (unpack) into one reused bucket: this is the
// reconciliation's bulk read (millions of buckets), where Buckets'
// per-bucket Summary (quantiles) would cost more than the comparison. b and
// its slices are reused between calls; its destination strings stay valid
// after the call.
func (r *Reader) ScanHours(ctx context.Context, view string, from, to int64, fn func(hour int64, group string, b *flight.SketchedBucket) error) error {
	v, ok := r.views[view]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownView, view)
	}
	from, to = flight.Hour(from*1e6), flight.Hour((to-1)*1e6)+3600
	var b flight.SketchedBucket
	var sk flight.DelaySketch
	appendBin := func(bin int32, n int64) { b.Bins = append(b.Bins, flight.Bin{Bin: bin, N: n}) }
	var addDest func(string)
	if v.DistinctDestinations {
		// Substrings of the reply: they stay valid after fn returns.
		addDest = func(d string) { b.Dests = append(b.Dests, d) }
	}
	for lo := from; lo < to; lo += scanChunk * 3600 {
		hi := min(to, lo+scanChunk*3600)
		pipe := r.rdb.Pipeline()
		cmds := make([]*redis.MapStringStringCmd, 0, scanChunk*r.partitions)
		for h := lo; h < hi; h += 3600 {
			for p := range r.partitions {
				cmds = append(cmds, pipe.HGetAll(ctx, r.keys.Hour(p, view, h)))
			}
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("scan %s hours: %w", view, err)
		}
		for i, c := range cmds {
			// Every partition's hash of the hour: a group is in one
			// partition only, so each bucket comes once.
			hour := lo + int64(i/r.partitions)*3600
			for group, p := range c.Val() {
				if group == keyspace.FieldDigest {
					continue
				}
				sk.Reset()
				b.Dests = b.Dests[:0]
				st, err := unpack(p, &sk, addDest)
				if err != nil {
					return fmt.Errorf("bucket %s %s %d: %w", view, group, hour, err)
				}
				b.Stats, b.Bins = st, b.Bins[:0]
				sk.Each(appendBin)
				if err := fn(hour, group, &b); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
