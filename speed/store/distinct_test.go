package store_test

import (
	"context"
	"maps"
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

// spreadEvents flushes, through the speed layer's own writer, ATL events at
// the given hour offsets from 2001-01-01 with the given destinations.
func spreadEvents(t *testing.T, prefix string, at map[int64][]string) (hour0 int64) {
	t.Helper()
	ctx := context.Background()
	rdb := testenv.Redis(t)
	keys := keyspace.New(prefix)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, keys.Base()+"*") })
	start := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	// Lateness of 200 years: every event counts whatever the order.
	a := agg.New(flight.Views(), int64(200*365*24*time.Hour/time.Microsecond), agg.Progress{Offset: -1})
	var evs []flight.Event
	for _, h := range slices.Sorted(maps.Keys(at)) {
		for _, d := range at[h] {
			evs = append(evs, flight.Event{ID: "x", Time: start.Add(time.Duration(h) * time.Hour).UnixMicro(),
				Origin: "ATL", Destination: d, Delay: 5, Distance: 1})
		}
	}
	a.Message(0, evs)
	l, err := lease.Acquire(ctx, rdb, keys.Lease(0), keys.Fence(0), "w", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	w := store.NewWriter(rdb, keys, flight.Views(), 0)
	if err := w.Flush(ctx, &store.Flush{Partition: 0, Lease: l.Value(), Token: l.Token, Pending: a.Pending()}); err != nil {
		t.Fatal(err)
	}
	return start.Unix()
}

// TestDistinctOverThousandsOfHours: the exact union of the destination sets
// of a range of 100,000 hours (eleven years; a stray event in 2099 makes the
// speed span 860,000) joined with an exact set. The Lua script serving used
// before failed here with "too many results to unpack" (Lua's stack holds
// ~8,000).
func TestDistinctOverThousandsOfHours(t *testing.T) {
	ctx := context.Background()
	prefix := testenv.Prefix(t)
	const span = 100_000
	h0 := spreadEvents(t, prefix, map[int64][]string{
		0: {"LAX", "JFK"}, 1: {"LAX"}, 999: {"SFO"}, 1000: {"ORD"}, 50_000: {"DEN"}, span - 1: {"SEA"},
		span: {"BOS"}, // just outside [from, to)
	})
	r := store.NewReader(testenv.Redis(t), prefix, 1)
	view := airportView(t)
	for _, tc := range []struct {
		name     string
		from, to int64 // hours after h0
		exact    []string
		want     int64
	}{
		{"whole span", 0, span, nil, 6},
		{"whole span with an exact part", 0, span, []string{"JFK", "MIA", "PHX"}, 8},
		{"one chunk", 0, 1000, nil, 3},
		{"chunk edge", 999, 1001, nil, 2},
		{"empty speed part", span + 1, span + 5000, []string{"MIA"}, 1},
		{"nothing", span + 1, span + 2, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exact := map[string]struct{}{}
			for _, d := range tc.exact {
				exact[d] = struct{}{}
			}
			got, err := r.SumDistinct(ctx, view, "ATL", h0+tc.from*3600, h0+tc.to*3600, exact)
			if err != nil {
				t.Fatal(err)
			}
			if got.Distinct != tc.want {
				t.Fatalf("distinct = %d, want %d", got.Distinct, tc.want)
			}
		})
	}
	// Exact sets larger than one read chunk.
	exact := map[string]struct{}{}
	for i := range 2500 {
		exact[string(rune('A'+i%26))+string(rune('A'+i/26%26))+string(rune('A'+i/676))] = struct{}{}
	}
	got, err := r.SumDistinct(ctx, view, "ATL", h0, h0+span*3600, exact)
	if err != nil {
		t.Fatal(err)
	}
	// The generated names may hold some of the speed part's: count the union.
	union := maps.Clone(exact)
	for _, d := range []string{"LAX", "JFK", "SFO", "ORD", "DEN", "SEA"} {
		union[d] = struct{}{}
	}
	if want := int64(len(union)); got.Distinct != want {
		t.Fatalf("distinct with %d exact members = %d, want %d", len(exact), got.Distinct, want)
	}
	if _, err := r.SumDistinct(ctx, "no_such_view", "ATL", h0, h0+3600, nil); err == nil {
		t.Fatal("an unknown view was accepted")
	}
}

func airportView(t *testing.T) string {
	for _, v := range flight.Views() {
		if v.Dim == flight.ByAirport && v.DistinctDestinations {
			return v.Name
		}
	}
	t.Fatal("no airport view counts distinct destinations")
	return ""
}

// TestGroupsByHourAndExpire: what the reconciliation reads and the coverage
// duty expires, through the speed layer's own reader and expirer.
func TestGroupsByHourAndExpire(t *testing.T) {
	ctx := context.Background()
	prefix := testenv.Prefix(t)
	rdb := testenv.Redis(t)
	h0 := spreadEvents(t, prefix, map[int64][]string{0: {"LAX"}, 1500: {"JFK"}, 3000: {"SFO"}})
	view := airportView(t)
	r := store.NewReader(rdb, prefix, 1)
	byHour, err := r.GroupsByHour(ctx, view, h0, h0+3000*3600)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64][]string{h0: {"ATL"}, h0 + 1500*3600: {"ATL"}}
	if len(byHour) != len(want) || !slices.Equal(byHour[h0], want[h0]) || !slices.Equal(byHour[h0+1500*3600], want[h0+1500*3600]) {
		t.Fatalf("groups by hour %v, want %v", byHour, want)
	}
	e := store.NewExpirer(rdb, prefix)
	if n, err := e.ExpireHours(ctx, 0, view, []int64{h0, h0 + 1500*3600}, time.Hour); err != nil || n != 2 {
		t.Fatalf("ExpireHours: %d %v, want 2 keys", n, err)
	}
	k := keyspace.New(prefix)
	for _, tc := range []struct {
		key     string
		expires bool
	}{
		{k.Hour(0, view, h0), true}, {k.Hour(0, view, h0+1500*3600), true},
		{k.Hour(0, view, h0+3000*3600), false}, {k.Hour(0, "route_hour", h0), false},
	} {
		ttl, err := rdb.PTTL(ctx, tc.key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := ttl > 0 && ttl <= time.Hour; got != tc.expires {
			t.Errorf("%s: TTL %v, want expiring=%v", tc.key, ttl, tc.expires)
		}
	}
}
