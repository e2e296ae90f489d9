package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/internal/lease"
	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/speed/agg"
	"github.com/tributary-dev/tributary/speed/keyspace"
	"github.com/tributary-dev/tributary/speed/store"
)

func pending(prev, off int64, delay int32) agg.Pending {
	a := agg.New(flight.Views(), int64(time.Hour/time.Microsecond), agg.Progress{Offset: prev})
	a.Message(off, []flight.Event{{ID: "x", Time: time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro(),
		Origin: "ATL", Destination: "LAX", Delay: delay, Distance: 1, Producer: "p", Seq: uint64(off + 1)}})
	return a.Pending()
}

// TestFencing: a writer whose lease expired and was taken over, or whose
// expected offset is stale, changes nothing.
func TestFencing(t *testing.T) {
	rdb := testenv.Redis(t)
	ctx := context.Background()
	prefix := testenv.Prefix(t)
	keys := keyspace.New(prefix)
	t.Cleanup(func() {
		ks, _ := rdb.Keys(ctx, keys.Base()+"*").Result()
		if len(ks) > 0 {
			rdb.Del(ctx, ks...)
		}
	})
	w := store.NewWriter(rdb, keys, flight.Views(), time.Hour)
	r := store.NewReader(rdb, prefix)
	acquire := func(owner string, ttl time.Duration) (lease.Grant, error) {
		return lease.Acquire(ctx, rdb, keys.Lease(0), keys.Fence(0), owner, ttl)
	}

	lx, err := acquire("x", 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(ctx, &store.Flush{Partition: 0, Lease: lx.Value(), Token: lx.Token, Pending: pending(-1, 0, 10)}); err != nil {
		t.Fatal(err)
	}
	if _, err := acquire("y", 10*time.Second); !errors.Is(err, lease.ErrHeld) {
		t.Fatalf("y acquired a held lease: %v", err)
	}
	time.Sleep(150 * time.Millisecond) // x is "paused" past its TTL
	ly, err := acquire("y", 10*time.Second)
	if err != nil || ly.Token <= lx.Token {
		t.Fatalf("y: %+v %v: want a larger token than %d", ly, err, lx.Token)
	}
	// x wakes up and flushes: refused, nothing written.
	err = w.Flush(ctx, &store.Flush{Partition: 0, Lease: lx.Value(), Token: lx.Token, Pending: pending(0, 1, 20)})
	if !errors.Is(err, store.ErrRefused) {
		t.Fatalf("stale flush: %v, want ErrRefused", err)
	}
	// y with a wrong expected offset: refused too.
	err = w.Flush(ctx, &store.Flush{Partition: 0, Lease: ly.Value(), Token: ly.Token, Pending: pending(5, 6, 30)})
	if !errors.Is(err, store.ErrRefused) {
		t.Fatalf("flush with a stale offset: %v, want ErrRefused", err)
	}
	hour := flight.Hour(time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro())
	b, err := r.Bucket(ctx, "airport_hour", "ATL", hour)
	if err != nil {
		t.Fatal(err)
	}
	if b.Stats != (flight.Stats{Count: 1, Sum: 10, Min: 10, Max: 10}) || b.Distinct != 1 {
		t.Fatalf("bucket %+v: refused flushes wrote", b)
	}
	// y resumes right: accepted.
	if err := w.Flush(ctx, &store.Flush{Partition: 0, Lease: ly.Value(), Token: ly.Token, Pending: pending(0, 1, 20)}); err != nil {
		t.Fatal(err)
	}
	st, _ := r.Partition(ctx, 0)
	if st.Offset != 1 || st.Token != ly.Token || st.Seqs["p"].String() != "2 1-1" || // seq 2 came first: 1 is awaited st.Applied != 2 ||
		st.MinTime != time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro() || st.MaxTime != st.MinTime {
		t.Fatalf("partition state %+v", st)
	}
	if b, _ = r.Bucket(ctx, "airport_hour", "ATL", hour); b.Count != 2 || b.Delayed != 1 || b.Max != 20 {
		t.Fatalf("bucket after y's flush %+v", b)
	}
	// y re-acquiring (a restart with the same worker id) gets a new token,
	// which fences off whatever its previous incarnation still sends.
	ly2, err := acquire("y", 10*time.Second)
	if err != nil || ly2.Token <= ly.Token {
		t.Fatalf("re-acquire: %+v %v", ly2, err)
	}
	err = w.Flush(ctx, &store.Flush{Partition: 0, Lease: ly.Value(), Token: ly.Token, Pending: pending(1, 2, 40)})
	if !errors.Is(err, store.ErrRefused) {
		t.Fatalf("flush of the previous incarnation: %v, want ErrRefused", err)
	}
}

// TestRetriedFlushRecognised: the same flush sent twice (a client retrying
// after losing the reply) is acknowledged once applied and changes nothing
// the second time; another writer's flush with the same offsets is refused.
func TestRetriedFlushRecognised(t *testing.T) {
	rdb := testenv.Redis(t)
	ctx := context.Background()
	prefix := testenv.Prefix(t)
	keys := keyspace.New(prefix)
	t.Cleanup(func() {
		ks, _ := rdb.Keys(ctx, keys.Base()+"*").Result()
		if len(ks) > 0 {
			rdb.Del(ctx, ks...)
		}
	})
	w := store.NewWriter(rdb, keys, flight.Views(), time.Hour)
	r := store.NewReader(rdb, prefix)
	lx, err := lease.Acquire(ctx, rdb, keys.Lease(0), keys.Fence(0), "x", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	f := &store.Flush{Partition: 0, Lease: lx.Value(), Token: lx.Token, Pending: pending(-1, 0, 10)}
	for i := 0; i < 2; i++ {
		if err := w.Flush(ctx, f); err != nil {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	hour := flight.Hour(time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro())
	b, err := r.Bucket(ctx, "airport_hour", "ATL", hour)
	if err != nil {
		t.Fatal(err)
	}
	if b.Count != 1 || b.Sum != 10 {
		t.Fatalf("bucket %+v after a retried flush: want it counted once", b)
	}
	if st, _ := r.Partition(ctx, 0); st.Applied != 1 || st.Offset != 0 {
		t.Fatalf("partition %+v after a retried flush", st)
	}
	// The same offsets under another token are not this writer's flush.
	other := &store.Flush{Partition: 0, Lease: lx.Value(), Token: lx.Token + 1, Pending: pending(-1, 0, 10)}
	if err := w.Flush(ctx, other); !errors.Is(err, store.ErrRefused) {
		t.Fatalf("flush with another token over the same offsets: %v, want ErrRefused", err)
	}
}
