package speed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/internal/clock"
	"github.com/tributary-dev/tributary/speed/keyspace"
	"github.com/tributary-dev/tributary/speed/metrics"
	"github.com/tributary-dev/tributary/speed/store"
)

// coverageHours bounds the hours one step expires per partition and view:
// a partition whose first event is years old (a producer's gap filled late)
// catches up over several rounds instead of holding one round for long.
const coverageHours = 4096

// coverage is the duty that gives the hour hashes of the partitions this
// worker holds a TTL once the batch layer covers their hours: the speed
// layer owns its keys, and the batch layer only says, through its last
// reconciliation, up to which hour it covers (Config.Covered). Each
// partition's progress is its hash's keyspace.FieldExpired, recorded in the
// script call that expires the hours it passes (store.ExpireCovered), only
// if it is still what the step read; a key expired twice (two owners during
// a hand-over) is harmless. A hash written later
// in an hour already passed (a gap filled late) gets the grace from the
// flush script, which reads the progress and keyspace.FieldExpiredGrace.
// It runs every Config.CoverageInterval, in the round, and a failure is
// logged and tried again next time.
type coverage struct {
	rdb     redis.Cmdable
	keys    keyspace.Keys
	expirer *store.Expirer
	covered func(context.Context) (to int64, grace time.Duration, err error)
	every   time.Duration
	// budget bounds a step: it runs in the worker's round, before the next
	// heartbeat and lease renewal, so a slow Redis must not hold it.
	budget time.Duration
	clock  clock.Clock
	next   time.Time
	m      *metrics.Metrics
	log    *slog.Logger
}

// step expires, for each partition held, the hours from its progress to
// what the batch layer covers, coverageHours at most.
func (c *coverage) step(parent context.Context, owned runs) {
	if c.covered == nil || len(owned) == 0 || c.clock.Now().Before(c.next) {
		return
	}
	c.next = c.clock.Now().Add(c.every)
	ctx, cancel := context.WithTimeout(parent, c.budget)
	defer cancel()
	// to: every hour before it is covered; its speed keys may go once grace
	// has passed (queries that loaded the previous batch version read them
	// until then).
	to, grace, err := c.covered(ctx)
	if err != nil {
		if parent.Err() == nil {
			c.log.Warn("coverage: reading what the batch layer covers failed", "err", err)
		}
		return
	}
	if to <= 0 {
		return
	}
	var keys int64
	var parts []int
	defer func() {
		if keys > 0 {
			slices.Sort(parts)
			c.log.Info("covered hours expired", "partitions", parts, "keys", keys, "covered_to", time.Unix(to, 0).UTC(), "grace", grace)
		}
	}()
	for p, rn := range owned {
		if rn.stopping {
			continue
		}
		n, err := c.partition(ctx, p, to, grace)
		c.m.CoveredExpired.Add(float64(n))
		if keys += n; n > 0 {
			parts = append(parts, p)
		}
		if err != nil {
			// A step cut by its budget goes on at the next one: the
			// partitions done so far recorded their progress.
			if parent.Err() == nil {
				c.log.Warn("coverage: expiring covered hours failed", "partition", p, "err", err)
			}
			return
		}
	}
}

// partition expires partition p's hashes of the hours from its progress
// (else its first event's hour) to `to`, coverageHours at most, giving
// them the TTL grace, and records the new progress. It returns the number
// of keys given the TTL.
func (c *coverage) partition(ctx context.Context, p int, to int64, grace time.Duration) (int64, error) {
	part := c.keys.Partition(p)
	vals, err := c.rdb.HMGet(ctx, part, keyspace.FieldExpired, keyspace.FieldMinTime).Result()
	if err != nil {
		return 0, fmt.Errorf("partition %d progress: %w", p, err)
	}
	from, err := startHour(vals)
	if err != nil {
		return 0, fmt.Errorf("partition %d progress: %w", p, err)
	}
	if from == 0 { // no event yet: nothing before to to expire
		from = to
	}
	if from >= to && vals[0] != nil {
		return 0, nil
	}
	read := store.Progress{}
	read.Expired, _ = vals[0].(string)
	read.MinTime, _ = vals[1].(string)
	// Expired and recorded together, chunk by chunk (store.ExpireCovered):
	// a flush into a passed hour either finds its hash given the TTL or
	// reads the new progress and gives it the TTL itself.
	n, err := c.expirer.ExpireCovered(ctx, p, from, min(to, from+coverageHours*3600), grace, read)
	if errors.Is(err, store.ErrProgressMoved) {
		// Another owner moved it, or an older event lowered the first
		// event's hour: the next step reads it again.
		c.log.Debug("coverage: progress moved while expiring; next step", "partition", p)
		return n, nil
	}
	return n, err
}

// startHour is the first hour not expired yet, from the HMGET of a
// partition's FieldExpired and FieldMinTime (µs): 0 when the partition has
// neither.
func startHour(vals []any) (int64, error) {
	if len(vals) != 2 {
		return 0, errors.New("want two fields")
	}
	if s, ok := vals[0].(string); ok {
		h, err := strconv.ParseInt(s, 10, 64)
		if err != nil || h%3600 != 0 {
			return 0, fmt.Errorf("%s %q is not an hour", keyspace.FieldExpired, s)
		}
		return h, nil
	}
	if s, ok := vals[1].(string); ok {
		us, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s %q: %w", keyspace.FieldMinTime, s, err)
		}
		return flight.Hour(us), nil
	}
	return 0, nil
}
