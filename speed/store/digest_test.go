package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/internal/lease"
	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/speed/agg"
	"github.com/tributary-dev/tributary/speed/keyspace"
	"github.com/tributary-dev/tributary/speed/store"
)

// TestHourDigestsFollowTheBuckets: an owner's flushes keep every hour
// hash's digest equal to the sum of its buckets' hashes, as they are in
// Redis (ScanHours), through flushes into buckets the State holds, a new
// owner (a fresh State, loading buckets and digests), an eviction and a
// retried flush. ScanHours and Groups never return the digest's field. A
// hash without a digest (written before digests existed) never gets one
// from a partial State: its hour stays not Complete, so the reconciliation
// compares it bucket by bucket.
func TestHourDigestsFollowTheBuckets(t *testing.T) {
	rdb := testenv.Redis(t)
	ctx := context.Background()
	prefix := testenv.Prefix(t)
	keys := keyspace.New(prefix)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, keys.Base()+"*") })
	w := store.NewWriter(rdb, keys, flight.Views(), 0)
	r := store.NewReader(rdb, prefix, 2) // partition 1 writes nothing
	l, err := lease.Acquire(ctx, rdb, keys.Lease(0), keys.Fence(0), "x", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	h0 := t0.Unix()
	// Every event counts, whatever its time.
	a := agg.New(flight.Views(), int64(200*365*24*time.Hour/time.Microsecond), agg.Progress{Offset: -1})
	var seq uint64
	off := int64(-1)
	flush := func(st *store.State, evs ...flight.Event) {
		t.Helper()
		for i := range evs {
			seq++
			evs[i].ID, evs[i].Producer, evs[i].Seq, evs[i].Distance = "x", "p", seq, 1
		}
		off++
		a.Message(off, evs)
		f := &store.Flush{Partition: 0, Lease: l.Value(), Token: l.Token, State: st, Pending: a.Pending()}
		if err := w.Flush(ctx, f); err != nil {
			t.Fatal(err)
		}
		a.Committed()
	}
	ev := func(origin, dest string, delay int32, at time.Duration) flight.Event {
		return flight.Event{Time: t0.Add(at).UnixMicro(), Origin: origin, Destination: dest, Delay: delay}
	}
	// check compares every hour's digest with the buckets in Redis; want
	// says which hours of [h0, h0+4h) must be Complete.
	check := func(step string, complete ...bool) {
		t.Helper()
		for _, v := range flight.Views() {
			sums, counts := map[int64]uint64{}, map[int64]int64{}
			if err := r.ScanHours(ctx, v.Name, h0, h0+4*3600, func(hour int64, group string, b *flight.SketchedBucket) error {
				if group == keyspace.FieldDigest {
					t.Fatalf("%s: ScanHours returned the digest field", step)
				}
				sums[hour] += b.Hash(group)
				counts[hour]++
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			ds, err := r.HourDigests(ctx, v.Name, h0, h0+4*3600)
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) != 4 {
				t.Fatalf("%s: %d digests for 4 hours", step, len(ds))
			}
			for i, d := range ds {
				if d.Hour != h0+int64(i)*3600 || d.Buckets != counts[d.Hour] || d.Present != (counts[d.Hour] > 0) || d.Complete != complete[i] ||
					d.Complete && d.Sum != sums[d.Hour] {
					t.Fatalf("%s: %s hour %d: %+v, want %d buckets summing to %x, complete %v", step, v.Name, i, d, counts[d.Hour], sums[d.Hour], complete[i])
				}
				gs, err := r.Groups(ctx, v.Name, d.Hour)
				if err != nil || int64(len(gs)) != counts[d.Hour] {
					t.Fatalf("%s: %s hour %d: groups %v %v, want %d", step, v.Name, i, gs, err, counts[d.Hour])
				}
			}
		}
	}
	st := store.NewState()
	flush(st, ev("ATL", "LAX", 10, 0), ev("ATL", "JFK", -3, time.Minute), ev("BOS", "ATL", 40, time.Hour))
	check("first flush", true, true, true, true)
	flush(st, ev("ATL", "LAX", 12, 2*time.Minute), ev("ATL", "SFO", 700, 3*time.Minute), ev("BOS", "ATL", 40, time.Hour+time.Minute))
	check("flushes into held buckets", true, true, true, true)
	// A new owner: loads the buckets it touches and their hours' digests.
	st = store.NewState()
	flush(st, ev("ATL", "LAX", 1, 4*time.Minute), ev("DEN", "ATL", 5, 5*time.Minute), ev("DEN", "BOS", 5, 2*time.Hour))
	check("a new owner", true, true, true, true)
	st.Evict(t0.Add(time.Hour).UnixMicro())
	flush(st, ev("ATL", "BOS", 2, 6*time.Minute), ev("DEN", "ATL", 9, 2*time.Hour+time.Minute))
	check("after an eviction", true, true, true, true)
	// A retried flush (its reply lost): applied once, the State reloaded.
	seq++
	off++
	a.Message(off, []flight.Event{{ID: "x", Producer: "p", Seq: seq, Distance: 1, Time: t0.Add(7 * time.Minute).UnixMicro(), Origin: "ATL", Destination: "ORD", Delay: 3}})
	f := &store.Flush{Partition: 0, Lease: l.Value(), Token: l.Token, State: st, Pending: a.Pending()}
	for range 2 {
		if err := w.Flush(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	a.Committed()
	flush(st, ev("ATL", "ORD", 4, 8*time.Minute))
	check("a retried flush", true, true, true, true)
	// Hour 1 as a version before digests wrote it: without a digest, and
	// new flushes into it by a new owner do not make one up.
	for _, v := range flight.Views() {
		if err := rdb.HDel(ctx, keys.Hour(0, v.Name, h0+3600), keyspace.FieldDigest).Err(); err != nil {
			t.Fatal(err)
		}
	}
	st = store.NewState()
	flush(st, ev("BOS", "ATL", 41, time.Hour+2*time.Minute), ev("ATL", "LAX", 2, 9*time.Minute))
	flush(st, ev("BOS", "SEA", 42, time.Hour+3*time.Minute))
	check("a hash without a digest", true, false, true, true)
}
