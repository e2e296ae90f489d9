package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/internal/lease"
	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/speed/agg"
	"github.com/tributary-dev/tributary/speed/keyspace"
	"github.com/tributary-dev/tributary/speed/store"
)

// TestPartitionsReadTogether: each partition writes its own hour hashes and
// quarantine list (one hash tag per partition, for Redis Cluster); the
// reader finds a group in its origin's partition, lists an hour's groups
// from every partition, merges the quarantine lists by time, and the
// expirer reaches every partition's hash of an hour.
func TestPartitionsReadTogether(t *testing.T) {
	const n = 8
	rdb := testenv.Redis(t)
	ctx := context.Background()
	prefix := testenv.Prefix(t)
	keys := keyspace.New(prefix)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, keys.Base()+"*") })
	// Two origins of different partitions.
	origins := []string{"ATL"}
	for _, o := range []string{"LAX", "ORD", "DEN", "JFK", "SFO", "SEA", "BOS"} {
		if flight.Partition(o, n) != flight.Partition("ATL", n) {
			origins = append(origins, o)
			break
		}
	}
	if len(origins) != 2 {
		t.Fatal("no origin outside ATL's partition")
	}
	t0 := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	hour := t0.Unix()
	w := store.NewWriter(rdb, keys, flight.Views(), 0)
	for i, o := range origins {
		p := flight.Partition(o, n)
		l, err := lease.Acquire(ctx, rdb, keys.Lease(p), keys.Fence(p), "w", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		a := agg.New(flight.Views(), int64(time.Hour/time.Microsecond), agg.Progress{Offset: -1})
		evs := make([]flight.Event, i+1) // ATL one flight, the other two
		for j := range evs {
			evs[j] = flight.Event{ID: "x", Time: t0.Add(time.Duration(j) * time.Minute).UnixMicro(), Origin: o,
				Destination: "MIA", Delay: int32(10 * (j + 1)), Distance: 1}
		}
		a.Message(0, evs)
		a.Malformed(1, "malformed: "+o, []byte("not a message "+o), 100)
		if err := w.Flush(ctx, &store.Flush{Partition: p, Lease: l.Value(), Token: l.Token, Pending: a.Pending()}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // distinct quarantine times
	}
	r := store.NewReader(rdb, prefix, n)
	bs, err := r.Buckets(ctx, []store.Ref{{View: "airport_hour", Group: origins[0], Hour: hour},
		{View: "airport_hour", Group: origins[1], Hour: hour}, {View: "route_hour", Group: origins[1] + "-MIA", Hour: hour}})
	if err != nil {
		t.Fatal(err)
	}
	if bs[0].Stats.Count != 1 || bs[1].Stats.Count != 2 || bs[2].Stats.Count != 2 || bs[1].Stats.Sum != 30 {
		t.Fatalf("buckets %+v %+v %+v: want 1, 2 and 2 flights", bs[0].Stats, bs[1].Stats, bs[2].Stats)
	}
	rg, err := r.Sums(ctx, "airport_hour", origins[1:2], hour, hour+3600)
	if err != nil || rg[0].Stats.Count != 2 {
		t.Fatalf("sums %+v %v: want 2 flights", rg, err)
	}
	gs, err := r.Groups(ctx, "airport_hour", hour)
	slices.Sort(gs)
	want := slices.Sorted(slices.Values(origins))
	if err != nil || !slices.Equal(gs, want) {
		t.Fatalf("groups %v %v, want %v", gs, err, want)
	}
	q, err := r.Quarantine(ctx, 10)
	if err != nil || len(q) != 2 || q[0].Reason != "malformed: "+origins[0] || q[1].Reason != "malformed: "+origins[1] {
		t.Fatalf("quarantine %+v %v: want both partitions' entries, oldest first", q, err)
	}
	if q, err := r.Quarantine(ctx, 1); err != nil || len(q) != 1 || q[0].Reason != "malformed: "+origins[1] {
		t.Fatalf("newest quarantine entry %+v %v", q, err)
	}
	e := store.NewExpirer(rdb, prefix)
	for p := range n {
		if got, err := e.ExpireHours(ctx, p, "airport_hour", []int64{hour}, time.Hour); err != nil || got != 1 {
			t.Fatalf("ExpireHours of partition %d: %d keys %v, want 1", p, got, err)
		}
	}
	for _, o := range origins {
		k := keys.Hour(flight.Partition(o, n), "airport_hour", hour)
		if ttl := rdb.PTTL(ctx, k).Val(); ttl <= 0 || ttl > time.Hour {
			t.Errorf("%s: TTL %v, want at most 1h", k, ttl)
		}
	}
}
