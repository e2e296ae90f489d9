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

// pending is the flush of one event after offset prev, by an aggregate
// started as a worker starts one, from the committed progress: after a
// flush (prev >= 0), the event time these flushes commit.
func pending(prev, off int64, delay int32) agg.Pending {
	at := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	from := agg.Progress{Offset: prev}
	if prev >= 0 {
		from.MaxTime = at
	}
	a := agg.New(flight.Views(), int64(time.Hour/time.Microsecond), from)
	a.Message(off, []flight.Event{{ID: "x", Time: at,
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
	t.Cleanup(func() { testenv.DeleteKeys(rdb, keys.Base()+"*") })
	w := store.NewWriter(rdb, keys, flight.Views(), time.Hour)
	r := store.NewReader(rdb, prefix, 1)
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
	b, err := readBucket(ctx, r, "airport_hour", "ATL", hour)
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
	if b, _ = readBucket(ctx, r, "airport_hour", "ATL", hour); b.Count != 2 || b.Delayed != 1 || b.Max != 20 {
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
	t.Cleanup(func() { testenv.DeleteKeys(rdb, keys.Base()+"*") })
	w := store.NewWriter(rdb, keys, flight.Views(), time.Hour)
	r := store.NewReader(rdb, prefix, 1)
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
	b, err := readBucket(ctx, r, "airport_hour", "ATL", hour)
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

// TestOwnerStateAcrossFlushes: the owner's State carries absolute bucket
// contents from flush to flush (loaded from Redis on first touch, evicted
// past the watermark), a retried flush leaves both Redis and the State
// exact, and a refused flush empties the State.
func TestOwnerStateAcrossFlushes(t *testing.T) {
	rdb := testenv.Redis(t)
	ctx := context.Background()
	prefix := testenv.Prefix(t)
	keys := keyspace.New(prefix)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, keys.Base()+"*") })
	w := store.NewWriter(rdb, keys, flight.Views(), 0)
	r := store.NewReader(rdb, prefix, 1)
	l, err := lease.Acquire(ctx, rdb, keys.Lease(0), keys.Fence(0), "x", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	hour := t0.Unix()
	a := agg.New(flight.Views(), int64(time.Hour/time.Microsecond), agg.Progress{Offset: -1})
	st := store.NewState()
	flush := func(f *store.Flush) {
		t.Helper()
		if err := w.Flush(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	ev := func(seq uint64, dest string, delay int32, at time.Duration) flight.Event {
		return flight.Event{ID: "x", Time: t0.Add(at).UnixMicro(), Origin: "ATL", Destination: dest, Delay: delay, Distance: 1, Producer: "p", Seq: seq}
	}
	// A bucket written before this owner (a previous owner's flush, with no State).
	a.Message(0, []flight.Event{ev(1, "LAX", 10, 0)})
	flush(&store.Flush{Partition: 0, Lease: l.Value(), Token: l.Token, Pending: a.Pending()})
	a.Committed()
	// This owner: loads it, then keeps it across flushes; a retried flush
	// (the reply lost) must not count twice in Redis nor in the State.
	a.Message(1, []flight.Event{ev(2, "JFK", 30, time.Minute), ev(3, "LAX", -5, 2*time.Minute)})
	f := &store.Flush{Partition: 0, Lease: l.Value(), Token: l.Token, State: st, Pending: a.Pending()}
	flush(f)
	flush(f)
	a.Committed()
	a.Message(2, []flight.Event{ev(4, "SFO", 20, 3*time.Minute)})
	flush(&store.Flush{Partition: 0, Lease: l.Value(), Token: l.Token, State: st, Pending: a.Pending()})
	a.Committed()
	b, err := readBucket(ctx, r, "airport_hour", "ATL", hour)
	if err != nil {
		t.Fatal(err)
	}
	if b.Stats != (flight.Stats{Count: 4, Sum: 55, Delayed: 2, Min: -5, Max: 30}) || b.Distinct != 3 || b.Sketch.Count() != 4 {
		t.Fatalf("bucket %+v, want 4 flights to 3 destinations", b)
	}
	rb, err := readBucket(ctx, r, "route_hour", "ATL-LAX", hour)
	if err != nil || rb.Stats != (flight.Stats{Count: 2, Sum: 5, Min: -5, Max: 10}) || rb.Distinct != -1 {
		t.Fatalf("route bucket %+v %v", rb, err)
	}
	// The retry was recognised and emptied the State; the last flush loaded
	// what it touched: airport ATL and route ATL-SFO.
	if st.Len() != 2 {
		t.Fatalf("state holds %d buckets, want 2", st.Len())
	}
	st.Evict(t0.Add(time.Hour).UnixMicro() - 1)
	if st.Len() != 2 {
		t.Fatalf("evicted an hour an event can still reach: %d left", st.Len())
	}
	st.Evict(t0.Add(time.Hour).UnixMicro())
	if st.Len() != 0 {
		t.Fatalf("state holds %d buckets past the watermark", st.Len())
	}
	// A refused flush (another owner took over) empties the State.
	a.Message(3, []flight.Event{ev(5, "LAX", 1, 4*time.Minute)})
	flush(&store.Flush{Partition: 0, Lease: l.Value(), Token: l.Token, State: st, Pending: a.Pending()})
	a.Committed()
	if st.Len() != 2 {
		t.Fatalf("state holds %d buckets, want 2", st.Len())
	}
	if _, err := rdb.Del(ctx, keys.Lease(0)).Result(); err != nil { // the lease lapsed...
		t.Fatal(err)
	}
	if _, err := lease.Acquire(ctx, rdb, keys.Lease(0), keys.Fence(0), "y", 10*time.Second); err != nil { // ...and y took it
		t.Fatal(err)
	}
	a.Message(4, []flight.Event{ev(6, "LAX", 1, 5*time.Minute)})
	if err := w.Flush(ctx, &store.Flush{Partition: 0, Lease: l.Value(), Token: l.Token, State: st, Pending: a.Pending()}); !errors.Is(err, store.ErrRefused) {
		t.Fatalf("flush with a superseded lease: %v, want ErrRefused", err)
	}
	if st.Len() != 0 {
		t.Fatalf("state holds %d buckets after a refused flush", st.Len())
	}
}

// TestNewOwnerMergesCommittedHours: an owner that takes a partition over
// starts with an empty State and its committed progress. The buckets of the
// hours up to the committed highest event time may be in Redis and are
// merged with them; those of later hours cannot be (the script writes
// buckets and that time together) and start empty. Every bucket comes out
// as the sum of both owners' events.
func TestNewOwnerMergesCommittedHours(t *testing.T) {
	rdb := testenv.Redis(t)
	ctx := context.Background()
	prefix := testenv.Prefix(t)
	keys := keyspace.New(prefix)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, keys.Base()+"*") })
	w := store.NewWriter(rdb, keys, flight.Views(), 0)
	r := store.NewReader(rdb, prefix, 1)
	t0 := time.Date(2001, 1, 1, 5, 0, 0, 0, time.UTC)
	ev := func(seq uint64, dest string, delay int32, at time.Duration) flight.Event {
		return flight.Event{ID: "x", Time: t0.Add(at).UnixMicro(), Origin: "ATL", Destination: dest, Delay: delay, Distance: 1, Producer: "p", Seq: seq}
	}
	owners := []struct {
		name   string
		events []flight.Event
	}{
		{"x", []flight.Event{ev(1, "LAX", 10, 10*time.Minute), ev(2, "JFK", -4, 50*time.Minute), ev(3, "LAX", 0, 55*time.Minute)}},
		// y: the hour x wrote (ATL-LAX and ATL there already), an earlier
		// hour within the lateness, and a later one.
		{"y", []flight.Event{ev(4, "LAX", 7, 58*time.Minute), ev(5, "SFO", 3, -time.Minute), ev(6, "LAX", 90, 70*time.Minute), ev(7, "JFK", 15, 59*time.Minute)}},
	}
	type bk struct {
		view, group string
		hour        int64
	}
	want := map[bk]*flight.Stats{}
	wantDests := map[int64]map[string]bool{}
	for i, o := range owners {
		l, err := lease.Acquire(ctx, rdb, keys.Lease(0), keys.Fence(0), o.name, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		from, err := store.Load(ctx, rdb, keys, 0)
		if err != nil {
			t.Fatal(err)
		}
		a := agg.New(flight.Views(), int64(time.Hour/time.Microsecond), from)
		a.Message(int64(i), o.events)
		f := &store.Flush{Partition: 0, Lease: l.Value(), Token: l.Token, State: store.NewState(), Pending: a.Pending()}
		if err := w.Flush(ctx, f); err != nil {
			t.Fatalf("%s: %v", o.name, err)
		}
		if _, err := rdb.Del(ctx, keys.Lease(0)).Result(); err != nil { // x leaves
			t.Fatal(err)
		}
		for _, e := range o.events {
			h := flight.Hour(e.Time)
			for _, k := range []bk{{"airport_hour", "ATL", h}, {"route_hour", "ATL-" + e.Destination, h}} {
				if want[k] == nil {
					want[k] = &flight.Stats{}
				}
				want[k].Add(e.Delay)
			}
			if wantDests[h] == nil {
				wantDests[h] = map[string]bool{}
			}
			wantDests[h][e.Destination] = true
		}
	}
	for k, s := range want {
		b, err := readBucket(ctx, r, k.view, k.group, k.hour)
		if err != nil {
			t.Fatal(err)
		}
		if b.Stats != *s || b.Sketch.Count() != s.Count {
			t.Errorf("bucket %v: %+v, want %+v", k, b.Stats, *s)
		}
		if k.view == "airport_hour" && b.Distinct != int64(len(wantDests[k.hour])) {
			t.Errorf("bucket %v: %d destinations, want %d", k, b.Distinct, len(wantDests[k.hour]))
		}
	}
	if len(want) != 7 {
		t.Fatalf("%d buckets expected, the test wants 7", len(want))
	}
}

// TestStateDropsHoursPastTheWatermark: a flush does not keep the buckets of
// hours that end at or before the watermark once it commits (a partition
// catching up writes thousands of them per flush, and Evict would drop them
// right after), and forgets those it held; a refill that reaches such an
// hour later reads its bucket from Redis and stays exact.
func TestStateDropsHoursPastTheWatermark(t *testing.T) {
	rdb := testenv.Redis(t)
	ctx := context.Background()
	prefix := testenv.Prefix(t)
	keys := keyspace.New(prefix)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, keys.Base()+"*") })
	w := store.NewWriter(rdb, keys, flight.Views(), 0)
	r := store.NewReader(rdb, prefix, 1)
	l, err := lease.Acquire(ctx, rdb, keys.Lease(0), keys.Fence(0), "x", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	ev := func(seq uint64, delay int32, at time.Duration) flight.Event {
		return flight.Event{ID: "x", Time: t0.Add(at).UnixMicro(), Origin: "ATL", Destination: "LAX", Delay: delay, Distance: 1, Producer: "p", Seq: seq}
	}
	a := agg.New(flight.Views(), int64(time.Hour/time.Microsecond), agg.Progress{Offset: -1})
	st := store.NewState()
	steps := []struct {
		events []flight.Event
		held   int // buckets the State holds after the flush, before any Evict
	}{
		{[]flight.Event{ev(1, 10, 10*time.Minute)}, 2},
		// Hour 3: the watermark moves to 02:00, past hour 0's end.
		{[]flight.Event{ev(3, 20, 20*time.Minute), ev(4, 30, 3*time.Hour)}, 2},
		// Seq 2 fills its producer's gap: applied in hour 0, read back from Redis.
		{[]flight.Event{ev(2, -5, 30*time.Minute)}, 2},
	}
	for i, s := range steps {
		a.Message(int64(i), s.events)
		if err := w.Flush(ctx, &store.Flush{Partition: 0, Lease: l.Value(), Token: l.Token, State: st, Pending: a.Pending()}); err != nil {
			t.Fatalf("flush %d: %v", i, err)
		}
		a.Committed()
		if st.Len() != s.held {
			t.Fatalf("flush %d: the state holds %d buckets, want %d", i, st.Len(), s.held)
		}
	}
	for _, c := range []struct {
		view, group string
		hour        int64
		want        flight.Stats
	}{
		{"airport_hour", "ATL", t0.Unix(), flight.Stats{Count: 3, Sum: 25, Delayed: 1, Min: -5, Max: 20}},
		{"route_hour", "ATL-LAX", t0.Unix(), flight.Stats{Count: 3, Sum: 25, Delayed: 1, Min: -5, Max: 20}},
		{"airport_hour", "ATL", t0.Add(3 * time.Hour).Unix(), flight.Stats{Count: 1, Sum: 30, Delayed: 1, Min: 30, Max: 30}},
	} {
		b, err := readBucket(ctx, r, c.view, c.group, c.hour)
		if err != nil {
			t.Fatal(err)
		}
		if b.Stats != c.want || b.Sketch.Count() != c.want.Count {
			t.Errorf("%s %s %d: %+v, want %+v", c.view, c.group, c.hour, b.Stats, c.want)
		}
	}
}

// readBucket reads one bucket through Buckets.
func readBucket(ctx context.Context, r *store.Reader, view, group string, hour int64) (store.Bucket, error) {
	bs, err := r.Buckets(ctx, []store.Ref{{View: view, Group: group, Hour: hour}})
	if err != nil {
		return store.Bucket{}, err
	}
	return bs[0], nil
}

// TestFlushExpiresCoveredHours: a flush into an hour the coverage duty has
// passed (before the partition's keyspace.FieldExpired: a gap filled late)
// gives that hour's hashes the recorded grace, since the duty will not come
// back to them; the hours from the progress on get no TTL, nor does any
// hour when no grace is recorded.
func TestFlushExpiresCoveredHours(t *testing.T) {
	rdb := testenv.Redis(t)
	ctx := context.Background()
	prefix := testenv.Prefix(t)
	keys := keyspace.New(prefix)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, keys.Base()+"*") })
	w := store.NewWriter(rdb, keys, flight.Views(), 0) // no --bucket-ttl
	lx, err := lease.Acquire(ctx, rdb, keys.Lease(0), keys.Fence(0), "x", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	h0 := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	// One flush of events in hours h0 .. h0+3h.
	flush := func(prev, off int64) {
		t.Helper()
		a := agg.New(flight.Views(), int64(time.Hour/time.Microsecond), agg.Progress{Offset: prev})
		for i := range int64(4) {
			a.Message(off+i, []flight.Event{{ID: "x", Time: (h0 + i*3600) * 1e6,
				Origin: "ATL", Destination: "LAX", Delay: 5, Distance: 1, Producer: "p", Seq: uint64(off + i + 1)}})
		}
		if err := w.Flush(ctx, &store.Flush{Partition: 0, Lease: lx.Value(), Token: lx.Token, Pending: a.Pending()}); err != nil {
			t.Fatal(err)
		}
	}
	ttls := func() []time.Duration {
		var out []time.Duration
		for _, v := range flight.Views() {
			for i := range int64(4) {
				out = append(out, rdb.PTTL(ctx, keys.Hour(0, v.Name, h0+i*3600)).Val())
			}
		}
		return out
	}
	// The duty passed h0 and h0+1h but recorded no grace (a partition
	// hash of before the grace field): no TTL.
	if err := rdb.HSet(ctx, keys.Partition(0), keyspace.FieldExpired, h0+2*3600).Err(); err != nil {
		t.Fatal(err)
	}
	flush(-1, 0)
	for i, ttl := range ttls() {
		if ttl != -1 {
			t.Fatalf("no grace recorded: key %d has TTL %v, want none", i, ttl)
		}
	}
	const grace = time.Hour
	if err := rdb.HSet(ctx, keys.Partition(0), keyspace.FieldExpiredGrace, grace.Milliseconds()).Err(); err != nil {
		t.Fatal(err)
	}
	flush(3, 4)
	for i, ttl := range ttls() {
		if hour := i % 4; hour < 2 && (ttl <= grace-time.Minute || ttl > grace) || hour >= 2 && ttl != -1 {
			t.Fatalf("key %d (hour %d): TTL %v, want the grace before the progress (hour 2), none from it", i, hour, ttl)
		}
	}
}
