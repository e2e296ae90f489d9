package store

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/speed/keyspace"
)

// expireChunk bounds the PEXPIREs of one pipeline.
const expireChunk = 5000

// Expirer gives speed keys a TTL once another layer covers their hours (the
// batch layer's reconciliation does, after a grace period that lets queries
// in flight finish). It is safe for concurrent use.
type Expirer struct {
	rdb        redis.Cmdable
	keys       keyspace.Keys
	partitions int
	views      map[string]flight.View
}

// NewExpirer returns an expirer of the views under keyPrefix written by
// partitions stream partitions.
func NewExpirer(rdb redis.Cmdable, keyPrefix string, partitions int) *Expirer {
	return &Expirer{rdb: rdb, keys: keyspace.New(keyPrefix), partitions: max(partitions, 1), views: viewsByName()}
}

// ExpireBuckets expires, after grace, the hour hashes holding the buckets:
// a bucket is one field of its partition's hash of its view's hour, so that
// whole hash goes (the reconciliation expires only hours the batch layer
// covers, every group of them). It returns the number of keys given a TTL (present or not).
func (e *Expirer) ExpireBuckets(ctx context.Context, refs []flight.BucketRef, grace time.Duration) (int64, error) {
	seen := map[string]bool{}
	keys := make([]string, 0, len(refs))
	for _, ref := range refs {
		if _, ok := e.views[ref.View]; !ok {
			return 0, fmt.Errorf("%w %q", ErrUnknownView, ref.View)
		}
		k := e.keys.Hour(keyspace.GroupPartition(ref.Group, e.partitions), ref.View, ref.Hour)
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return e.expire(ctx, keys, grace)
}

// ExpireGroups expires the hour hashes (every partition's) of the given
// hours of a view after grace. It returns the number of keys given a TTL.
func (e *Expirer) ExpireGroups(ctx context.Context, view string, hours []int64, grace time.Duration) (int64, error) {
	if _, ok := e.views[view]; !ok {
		return 0, fmt.Errorf("%w %q", ErrUnknownView, view)
	}
	keys := make([]string, 0, len(hours)*e.partitions)
	for _, h := range hours {
		for p := range e.partitions {
			keys = append(keys, e.keys.Hour(p, view, h))
		}
	}
	return e.expire(ctx, keys, grace)
}

func (e *Expirer) expire(ctx context.Context, keys []string, grace time.Duration) (int64, error) {
	for lo := 0; lo < len(keys); lo += expireChunk {
		pipe := e.rdb.Pipeline()
		for _, k := range keys[lo:min(lo+expireChunk, len(keys))] {
			pipe.PExpire(ctx, k, grace)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return 0, fmt.Errorf("expire speed keys: %w", err)
		}
	}
	return int64(len(keys)), nil
}
