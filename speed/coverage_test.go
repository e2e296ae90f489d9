package speed

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/internal/clock"
	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/speed/keyspace"
	"github.com/tributary-dev/tributary/speed/metrics"
	"github.com/tributary-dev/tributary/speed/store"
)

// TestCoverageExpiresCoveredHours drives the coverage duty step by step:
// the hashes of the hours before what the batch layer covers get its
// grace, in the partitions held only, from the partition's first event on,
// never the hours after; the progress is kept, a partition without events
// skips ahead, a covering that moves on expires the new hours only, a
// failure to read the covering changes nothing, and a partition whose
// first event is far behind catches up coverageHours per step.
func TestCoverageExpiresCoveredHours(t *testing.T) {
	ctx := context.Background()
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	keys := keyspace.New(prefix)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, keys.Base()+"*") })
	const h0 = int64(978307200) // 2001-01-01T00:00Z
	views := flight.Views()
	// Partitions 0 and 1 hold buckets in hours h0 .. h0+9h; partition 0's
	// first event is at h0+2h10m, partition 2 has none.
	for p := range 2 {
		for _, v := range views {
			for i := range int64(10) {
				if err := rdb.HSet(ctx, keys.Hour(p, v.Name, h0+i*3600), "ATL", "x").Err(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := rdb.HSet(ctx, keys.Partition(0), keyspace.FieldMinTime, (h0+2*3600+600)*1e6).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.HSet(ctx, keys.Partition(1), keyspace.FieldMinTime, h0*1e6).Err(); err != nil {
		t.Fatal(err)
	}
	to, grace, fail := h0+5*3600, time.Hour, false
	clk := clock.NewManual(time.Unix(0, 0))
	m := metrics.New(nil)
	c := &coverage{rdb: rdb, keys: keys, expirer: store.NewExpirer(rdb, prefix),
		covered: func(context.Context) (int64, time.Duration, error) {
			if fail {
				return 0, 0, errors.New("redis down")
			}
			return to, grace, nil
		},
		every: 5 * time.Second, budget: time.Minute, clock: clk, m: m, log: quiet()}
	owned := runs{0: {part: 0}, 2: {part: 2}} // partition 1 is another worker's
	// check says which hours of [h0, h0+10h) of partition p have the grace.
	check := func(step string, p int, expired func(i int64) bool) {
		t.Helper()
		for _, v := range views {
			for i := range int64(10) {
				ttl := rdb.PTTL(ctx, keys.Hour(p, v.Name, h0+i*3600)).Val()
				if want := expired(i); want && (ttl <= 0 || ttl > grace) || !want && ttl != -1 {
					t.Fatalf("%s: partition %d %s hour %d: TTL %v, want the grace: %v", step, p, v.Name, i, ttl, want)
				}
			}
		}
	}
	progress := func(p int) string { return rdb.HGet(ctx, keys.Partition(p), keyspace.FieldExpired).Val() }

	c.step(ctx, owned)
	// Partition 0: from its first event's hour (h0+2h) to h0+5h.
	check("first step", 0, func(i int64) bool { return i >= 2 && i < 5 })
	check("first step", 1, func(int64) bool { return false })
	if progress(0) != strconv.FormatInt(h0+5*3600, 10) || progress(2) != strconv.FormatInt(h0+5*3600, 10) || progress(1) != "" {
		t.Fatalf("progress %q %q %q, want h0+5h for the partitions held only", progress(0), progress(1), progress(2))
	}
	// The grace is recorded with the progress, for the flush (flush.lua)
	// of a gap filled late, in the partition that skipped ahead too.
	for _, p := range []int{0, 2} {
		if got := rdb.HGet(ctx, keys.Partition(p), keyspace.FieldExpiredGrace).Val(); got != strconv.FormatInt(grace.Milliseconds(), 10) {
			t.Fatalf("partition %d: grace recorded %q, want %d ms", p, got, grace.Milliseconds())
		}
	}
	if got := testutil.ToFloat64(m.CoveredExpired); got != 3*float64(len(views)) {
		t.Fatalf("%v keys counted, want %d", got, 3*len(views))
	}

	// Not before the interval, then the new hours only.
	to = h0 + 8*3600
	for _, v := range views {
		if err := rdb.Persist(ctx, keys.Hour(0, v.Name, h0+3*3600)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	c.step(ctx, owned)
	if ttl := rdb.PTTL(ctx, keys.Hour(0, views[0].Name, h0+6*3600)).Val(); ttl != -1 {
		t.Fatalf("a step within the interval expired hour 6: TTL %v", ttl)
	}
	clk.Advance(5 * time.Second)
	fail = true
	c.step(ctx, owned)
	check("covering unreadable", 0, func(i int64) bool { return i == 2 || i == 4 })
	clk.Advance(5 * time.Second)
	fail = false
	c.step(ctx, owned)
	// Hour 3 (its TTL removed above) is behind the progress: not again.
	check("covering moved on", 0, func(i int64) bool { return i >= 2 && i < 8 && i != 3 })
	check("covering moved on", 1, func(int64) bool { return false })

	// A step out of its budget (a slow Redis) records nothing; the next
	// one goes on.
	to = h0 + 9*3600
	c.budget = time.Nanosecond
	clk.Advance(5 * time.Second)
	c.step(ctx, owned)
	if got := progress(0); got != strconv.FormatInt(h0+8*3600, 10) {
		t.Fatalf("progress after a step out of its budget: %s, want h0+8h unchanged", got)
	}
	c.budget = time.Minute
	clk.Advance(5 * time.Second)
	c.step(ctx, owned)
	check("after a step out of its budget", 0, func(i int64) bool { return i >= 2 && i < 9 && i != 3 })

	// A first event far behind: coverageHours per step.
	far := h0 - int64(coverageHours+10)*3600
	if err := rdb.HSet(ctx, keys.Partition(2), keyspace.FieldExpired, far).Err(); err != nil {
		t.Fatal(err)
	}
	clk.Advance(5 * time.Second)
	c.step(ctx, owned)
	if got, want := progress(2), strconv.FormatInt(far+coverageHours*3600, 10); got != want {
		t.Fatalf("progress after a step from far behind: %s, want %s", got, want)
	}
	clk.Advance(5 * time.Second)
	c.step(ctx, owned)
	if got := progress(2); got != strconv.FormatInt(to, 10) {
		t.Fatalf("progress after the catch-up: %s, want %d", got, to)
	}
}
