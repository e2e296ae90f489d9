package speed_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/speed"
	"github.com/tributary-dev/tributary/speed/keyspace"
	"github.com/tributary-dev/tributary/speed/store"
)

// TestRefillIntoCoveredHourGetsGrace runs a worker (no --bucket-ttl, as
// users run it) whose coverage duty is told that the batch layer covers the
// hours before 09:00: it gives the hashes of hour 05 the grace and leaves
// hour 10's alone. Once hour 05's hashes are gone (their grace over), the
// events of a gap in the producer's seqs arrive, far behind the watermark:
// they are applied as a refill and recreate hour 05's hashes, which must get
// the grace again (the duty has passed that hour and will not come back to
// it), holding the refill's events only.
func TestRefillIntoCoveredHourGetsGrace(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const origin, dest = "ATL", "LAX"
	p := e.streams.PartitionOf(origin)
	t0 := time.Date(2001, 1, 3, 5, 0, 0, 0, time.UTC)
	event := replayEvent("rf", t0, origin, dest)
	// Seqs 1-20 in hour 05, seqs 21-30 in hour 10.
	var ev []flight.Event
	for s := uint64(1); s <= 30; s++ {
		at := time.Duration(s) * time.Minute
		if s > 20 {
			at += 5 * time.Hour
		}
		ev = append(ev, event(s, at))
	}
	seqs := func(lo, hi uint64) []flight.Event { return ev[lo-1 : hi] }
	covered := t0.Add(4 * time.Hour).Unix() // 09:00
	const grace = 10 * time.Minute
	_, m := e.inProcessWith("w1", func(c *speed.Config) {
		c.BucketTTL = 0
		c.CoverageInterval = 100 * time.Millisecond
		c.Covered = func(context.Context) (int64, time.Duration, error) { return covered, grace, nil }
	})
	published := make([]int64, e.streams.Partitions)
	publish := e.eventPublisher("replay", p, published)
	publish(seqs(1, 10))
	publish(seqs(21, 30)) // 11-20 missing
	e.waitCommitted(published, time.Minute)

	keys := keyspace.New(e.keyPrefix)
	h05, h10 := t0.Unix(), t0.Add(5*time.Hour).Unix()
	hashes := func(hour int64) []string {
		var out []string
		for _, v := range flight.Views() {
			out = append(out, keys.Hour(p, v.Name, hour))
		}
		return out
	}
	deadline := time.Now().Add(time.Minute)
	for {
		n, err := e.rdb.HGet(ctx, keys.Partition(p), keyspace.FieldExpired).Int64()
		if err == nil && n >= covered {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the coverage duty did not pass %d in a minute (expired %d, %v)", covered, n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	checkTTL := func(when string, hour int64, withGrace bool) {
		t.Helper()
		for _, k := range hashes(hour) {
			ttl, err := e.rdb.PTTL(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case withGrace && (ttl <= 0 || ttl > grace):
				t.Errorf("%s: %s has TTL %v, want the grace (at most %v)", when, k, ttl, grace)
			case !withGrace && ttl != -1:
				t.Errorf("%s: %s has TTL %v, want none", when, k, ttl)
			}
		}
	}
	checkTTL("covered", h05, true)
	checkTTL("covered", h10, false)

	// The grace runs out: hour 05's hashes are gone (the batch view holds
	// those events). The gap's events come in.
	if err := e.rdb.Del(ctx, hashes(h05)...).Err(); err != nil {
		t.Fatal(err)
	}
	publish(seqs(11, 15))
	e.waitCommitted(published, time.Minute)
	checkTTL("refilled", h05, true)
	checkTTL("refilled", h10, false)
	var want flight.Stats
	for _, x := range seqs(11, 15) {
		want.Add(x.Delay)
	}
	for _, ref := range []store.Ref{{View: "airport_hour", Group: origin, Hour: h05}, {View: "route_hour", Group: origin + "-" + dest, Hour: h05}} {
		bs, err := e.reader.Buckets(ctx, []store.Ref{ref})
		if err != nil {
			t.Fatal(err)
		}
		if bs[0].Stats != want {
			t.Errorf("%s %s after the refill: %+v, want the refill's %+v", ref.View, ref.Group, bs[0].Stats, want)
		}
	}
	st, err := e.reader.Partition(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if refilled := testutil.ToFloat64(m.Refilled); st.Applied != 25 || refilled != 5 {
		t.Errorf("partition %d: applied %d, refilled %v; want 25, 5", p, st.Applied, refilled)
	}
}
