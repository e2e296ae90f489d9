package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

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
// decodes them
// without maps: this is the reconciliation's bulk read (millions of
// buckets), where Buckets' per-bucket Summary (maps, quantiles) would cost
// more than the comparison. b and its slices are reused between calls; its
// destination strings stay valid after the call.
func (r *Reader) ScanHours(ctx context.Context, view string, from, to int64, fn func(hour int64, group string, b *flight.SketchedBucket) error) error {
	v, ok := r.views[view]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownView, view)
	}
	from, to = flight.Hour(from*1e6), flight.Hour((to-1)*1e6)+3600
	var b flight.SketchedBucket
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
				if err := decode(p, &b, v.DistinctDestinations); err != nil {
					return fmt.Errorf("bucket %s %s %d: %w", view, group, hour, err)
				}
				if err := fn(hour, group, &b); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// decode reads a packed bucket (pack's layout) into b, replacing its
// content. The destinations are substrings of p (no copy); they are kept
// only when dests.
func decode(p string, b *flight.SketchedBucket, dests bool) error {
	buf := unsafe.Slice(unsafe.StringData(p), len(p)) // read only
	if len(buf) == 0 || buf[0] != packedVersion {
		return fmt.Errorf("%w: version", errPacked)
	}
	at := 1
	varint := func() (int64, bool) {
		v, n := binary.Varint(buf[at:])
		at += max(n, 0)
		return v, n > 0
	}
	uvarint := func() (uint64, bool) {
		v, n := binary.Uvarint(buf[at:])
		at += max(n, 0)
		return v, n > 0
	}
	var f [5]int64
	for i := range f {
		v, ok := varint()
		if !ok {
			return fmt.Errorf("%w: stats", errPacked)
		}
		f[i] = v
	}
	b.Stats = flight.Stats{Count: f[0], Sum: f[1], Delayed: f[2], Min: int32(f[3]), Max: int32(f[4])}
	nb, ok := uvarint()
	if !ok || nb > uint64(len(buf)) {
		return fmt.Errorf("%w: bins", errPacked)
	}
	b.Bins = b.Bins[:0]
	bin := int64(0)
	for range nb {
		d, ok1 := varint()
		n, ok2 := uvarint()
		if !ok1 || !ok2 {
			return fmt.Errorf("%w: bin", errPacked)
		}
		bin += d
		b.Bins = append(b.Bins, flight.Bin{Bin: int32(bin), N: int64(n)})
	}
	nd, ok := uvarint()
	if !ok || nd > uint64(len(buf)) {
		return fmt.Errorf("%w: destinations", errPacked)
	}
	b.Dests = b.Dests[:0]
	if !dests {
		b.Dests = nil
	}
	for range nd {
		l, ok := uvarint()
		if !ok || uint64(len(buf)-at) < l {
			return fmt.Errorf("%w: destination", errPacked)
		}
		if dests {
			b.Dests = append(b.Dests, p[at:at+int(l)])
		}
		at += int(l)
	}
	if at != len(buf) {
		return fmt.Errorf("%w: %d trailing bytes", errPacked, len(buf)-at)
	}
	return nil
}
