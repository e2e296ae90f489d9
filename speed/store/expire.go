package store

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/speed/keyspace"
)

// expireChunk is the number of hour hashes of one expire.lua call: small,
// like digestsChunk, because a script blocks Redis while it runs.
const expireChunk = 128

// expireSource is the script that gives hour hashes a TTL; its header
// documents its KEYS, ARGV and reply.
//
//go:embed expire.lua
var expireSource string

// Expirer gives speed keys a TTL once another layer covers their hours (the
// batch layer's reconciliation does, after a grace period that lets queries
// in flight finish). It is safe for concurrent use.
type Expirer struct {
	rdb        redis.Cmdable
	keys       keyspace.Keys
	partitions int
	views      map[string]flight.View
	script     *redis.Script
}

// NewExpirer returns an expirer of the views under keyPrefix written by
// partitions stream partitions.
func NewExpirer(rdb redis.Cmdable, keyPrefix string, partitions int) *Expirer {
	return &Expirer{rdb: rdb, keys: keyspace.New(keyPrefix), partitions: max(partitions, 1), views: viewsByName(),
		script: redis.NewScript(expireSource)}
}

// ExpireGroups expires the hour hashes (every partition's) of the given
// hours of a view after grace. It returns the number of keys given a TTL
// (present or not).
func (e *Expirer) ExpireGroups(ctx context.Context, view string, hours []int64, grace time.Duration) (int64, error) {
	if _, ok := e.views[view]; !ok {
		return 0, fmt.Errorf("%w %q", ErrUnknownView, view)
	}
	keys := make([][]string, e.partitions)
	for p := range keys {
		keys[p] = make([]string, len(hours))
		for i, h := range hours {
			keys[p][i] = e.keys.Hour(p, view, h)
		}
	}
	if err := e.expire(ctx, keys, grace); err != nil {
		return 0, err
	}
	return int64(len(hours) * e.partitions), nil
}

// expire gives the keys, by partition, the TTL grace: expire.lua over
// expireChunk keys of a partition at a time, the partitions at once.
func (e *Expirer) expire(ctx context.Context, byPartition [][]string, grace time.Duration) error {
	var eg errgroup.Group
	for _, keys := range byPartition {
		eg.Go(func() error {
			for lo := 0; lo < len(keys); lo += expireChunk {
				if err := e.script.Run(ctx, e.rdb, keys[lo:min(lo+expireChunk, len(keys))], grace.Milliseconds()).Err(); err != nil {
					return fmt.Errorf("expire speed keys: %w", err)
				}
			}
			return nil
		})
	}
	return eg.Wait()
}
