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

// Buckets reads many buckets in one pipelined round trip (one HMGET per
// hour hash), in the order of refs; a bucket without data has Count 0. Each
// is one hour's bucket with its Quantiles and, for views that count them,
// Distinct: the number of its destinations (a packed bucket holds its
// exact set), -1 otherwise. Reads over hours go through Sums, Hourly and
// SumDistinct instead, which merge the hours without quantiles.
func (r *Reader) Buckets(ctx context.Context, refs []Ref) ([]Bucket, error) {
	out := make([]Bucket, len(refs))
	var reads []hashRead
	at := map[string]int{} // hour hash -> its read
	for i, ref := range refs {
		v, ok := r.views[ref.View]
		if !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownView, ref.View)
		}
		out[i] = Bucket{View: ref.View, Group: ref.Group, From: ref.Hour, To: ref.Hour, Distinct: -1}
		if v.DistinctDestinations {
			out[i].Distinct = 0
		}
		k := r.hourKey(ref.View, ref.Group, ref.Hour)
		n, ok := at[k]
		if !ok {
			n = len(reads)
			at[k] = n
			reads = append(reads, hashRead{view: ref.View, key: k, hour: ref.Hour})
		}
		reads[n].fields = append(reads[n].fields, ref.Group)
		reads[n].index = append(reads[n].index, i)
	}
	err := r.readHashes(ctx, reads, func(i int, _ int64, p string) error {
		b := &out[i]
		var count func(string)
		if b.Distinct >= 0 {
			count = func(string) { b.Distinct++ }
		}
		return addPacked(b, p, count)
	})
	if err != nil {
		return nil, err
	}
	for i := range out {
		addQuantiles(&out[i])
	}
	return out, nil
}

// hoursChunk bounds the commands of one pipeline of GroupsByHour and
// HourDigests, and the hours of one of read.
const hoursChunk = 1000

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

// addQuantiles sets b's served percentiles from its sketch (none without
// flights) and their relative error.
func addQuantiles(b *Bucket) {
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
