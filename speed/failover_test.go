package speed_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/internal/redisconn"
	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/speed/keyspace"
)

// TestViewsExactThroughLossyRedisFailover: Redis replicates asynchronously,
// so a failover can lose flushes the primary acknowledged. A worker runs
// against a private primary + replica + 3 Sentinels; the replica is cut from
// the primary (testenv.SentinelSet.Lag) while a second part of the flights
// is applied, then the primary is SIGKILLed: the promoted replica lacks
// those flushes. Each partition's offset, dedup marks and buckets are
// written by one script, so they went back in time together; the worker,
// following the failover, has its next flushes refused (their expected
// offset is gone), reloads the committed offsets and consumes the lost part
// again. After a third part, every bucket is exact, with no event late and
// none counted twice.
func TestViewsExactThroughLossyRedisFailover(t *testing.T) {
	s := testenv.StartSentinelSet(t, 17935)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	rdb, _, err := redisconn.Open(ctx, s.URL(), 16)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() }) // after the worker's (cleanups run last first)
	e := newEnvOn(t, rdb)
	e.inProcess("w1")
	const n1, n2, n3 = 20_000, 40_000, 60_000

	r1 := e.publish(0, n1)
	e.waitCommitted(totalMessages(r1), 2*time.Minute)
	if n, err := rdb.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT: %d replicas, %v", n, err)
	}

	// The second part reaches the primary only.
	s.Lag(ctx)
	r2 := e.publish(n1, n2)
	e.waitCommitted(totalMessages(r1, r2), 2*time.Minute)
	primary, replica := s.Direct(s.Base()), s.Direct(s.Base()+1)
	defer primary.Close()
	defer replica.Close()
	onPrimary, onReplica := applied(ctx, t, primary, e), applied(ctx, t, replica, e)
	if onPrimary != n2 || onReplica >= onPrimary {
		t.Fatalf("before the failover: %d events applied on the primary (want %d), %d on the replica (want fewer)", onPrimary, n2, onReplica)
	}

	took := s.KillPrimary(ctx)
	lost := onPrimary - applied(ctx, t, replica, e)
	t.Logf("replica promoted %v after the primary's death; the failover lost %d applied events", took.Round(time.Millisecond), lost)
	if lost <= 0 {
		t.Fatalf("the promoted replica has every flush: the test lost nothing")
	}

	r3 := e.publish(n2, n3)
	e.waitCommitted(totalMessages(r1, r2, r3), 3*time.Minute)
	exp, events := expected(t, e.data, n3)
	e.checkViews(exp)
	if dups, late, _ := e.checkTotals(events); dups != 0 || late != 0 {
		t.Errorf("duplicates %d, late %d; want 0, 0", dups, late)
	}
}

// applied sums the partitions' applied counters on one Redis.
func applied(ctx context.Context, t *testing.T, c redis.Cmdable, e *env) int64 {
	t.Helper()
	k := keyspace.New(e.keyPrefix)
	var sum int64
	for p := 0; p < e.streams.Partitions; p++ {
		n, err := c.HGet(ctx, k.Partition(p), keyspace.FieldApplied).Int64()
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatal(err)
		}
		sum += n
	}
	return sum
}
