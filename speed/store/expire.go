package store

import (
	"context"
	_ "embed"
	"fmt"
	"time"

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
// speed workers' coverage duty does, for the partitions each holds, once a
// reconciled batch view covers them; the TTL is the batch's grace period,
// which lets queries in flight finish). It is safe for concurrent use.
type Expirer struct {
	rdb    redis.Cmdable
	keys   keyspace.Keys
	views  map[string]flight.View
	script *redis.Script
}

// NewExpirer returns an expirer of the views under keyPrefix.
func NewExpirer(rdb redis.Cmdable, keyPrefix string) *Expirer {
	return &Expirer{rdb: rdb, keys: keyspace.New(keyPrefix), views: viewsByName(), script: redis.NewScript(expireSource)}
}

// ExpireHours expires partition p's hour hashes of the given hours of a
// view after grace: expire.lua over expireChunk keys at a time (one slot,
// the partition's). It returns the number of keys given a TTL (present or
// not).
func (e *Expirer) ExpireHours(ctx context.Context, p int, view string, hours []int64, grace time.Duration) (int64, error) {
	if _, ok := e.views[view]; !ok {
		return 0, fmt.Errorf("%w %q", ErrUnknownView, view)
	}
	keys := make([]string, 0, min(expireChunk, len(hours)))
	for lo := 0; lo < len(hours); lo += expireChunk {
		keys = keys[:0]
		for _, h := range hours[lo:min(lo+expireChunk, len(hours))] {
			keys = append(keys, e.keys.Hour(p, view, h))
		}
		if err := e.script.Run(ctx, e.rdb, keys, grace.Milliseconds()).Err(); err != nil {
			return 0, fmt.Errorf("expire speed keys: %w", err)
		}
	}
	return int64(len(hours)), nil
}
