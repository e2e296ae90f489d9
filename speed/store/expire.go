package store

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
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
// the partition's), recording no progress. It returns the number of keys
// given a TTL (present or not).
func (e *Expirer) ExpireHours(ctx context.Context, p int, view string, hours []int64, grace time.Duration) (int64, error) {
	if _, ok := e.views[view]; !ok {
		return 0, fmt.Errorf("%w %q", ErrUnknownView, view)
	}
	keys := make([]string, 0, min(expireChunk, len(hours))+1)
	for lo := 0; lo < len(hours); lo += expireChunk {
		keys = append(keys[:0], e.keys.Partition(p))
		for _, h := range hours[lo:min(lo+expireChunk, len(hours))] {
			keys = append(keys, e.keys.Hour(p, view, h))
		}
		if err := e.script.Run(ctx, e.rdb, keys, grace.Milliseconds(), "*", "", "").Err(); err != nil {
			return 0, fmt.Errorf("expire speed keys: %w", err)
		}
	}
	return int64(len(hours)), nil
}

// Progress is a partition's coverage progress as its owner read it: the
// raw keyspace.FieldExpired and keyspace.FieldMinTime ("" when absent).
type Progress struct {
	Expired, MinTime string
}

// ErrProgressMoved says that a partition's coverage progress changed since
// it was read: ExpireCovered did nothing more, and the next step reads it
// again.
var ErrProgressMoved = errors.New("the partition's coverage progress moved since it was read")

// ExpireCovered gives grace as a TTL to partition p's hour hashes of every
// view (flight.Views) for the hours [from, to), and records the progress:
// each expire.lua call (expireChunk keys, every view of a run of hours)
// first checks that the progress is still what was read (read, then what
// the previous call recorded), expires its hours and records the hour after
// them, with the grace, in the same call; from >= to records to alone. So a
// flush either comes before a call (its hash is there to be given the TTL)
// or after it (it reads the new progress and gives the TTL itself,
// flush.lua): no hash of a passed hour is left without one. It returns the
// number of keys given the TTL (hours times views, present or not) and
// ErrProgressMoved if a check failed (the calls before it stand).
func (e *Expirer) ExpireCovered(ctx context.Context, p int, from, to int64, grace time.Duration, read Progress) (int64, error) {
	views := flight.Views()
	step := int64(max(1, expireChunk/len(views))) * 3600
	expired, n := read.Expired, int64(0)
	keys := make([]string, 0, expireChunk+1)
	for lo := from; ; {
		hi := min(to, lo+step) // to itself when from >= to: no hour, the progress alone
		keys = append(keys[:0], e.keys.Partition(p))
		for h := lo; h < hi; h += 3600 {
			for _, v := range views {
				keys = append(keys, e.keys.Hour(p, v.Name, h))
			}
		}
		next := strconv.FormatInt(hi, 10)
		r, err := e.script.Run(ctx, e.rdb, keys, grace.Milliseconds(), expired, read.MinTime, next).Int64()
		if err != nil {
			return n, fmt.Errorf("expire covered hours of partition %d: %w", p, err)
		}
		if r < 0 {
			return n, fmt.Errorf("partition %d: %w", p, ErrProgressMoved)
		}
		n += int64(len(keys) - 1)
		if hi >= to {
			break
		}
		expired, lo = next, hi
	}
	return n, nil
}
