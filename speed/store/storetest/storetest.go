package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/internal/lease"
	"github.com/tributary-dev/tributary/speed/agg"
	"github.com/tributary-dev/tributary/speed/keyspace"
	"github.com/tributary-dev/tributary/speed/store"
)

// Flush applies evs to the speed views under prefix as the speed layer
// would with the given number of partitions: each partition's events (by
// origin) in one message at offset 0, flushed by a fresh lease holder. The
// allowed lateness is 200 years, so every event counts whatever the order.
func Flush(t testing.TB, rdb redis.UniversalClient, prefix string, partitions int, evs []flight.Event) {
	t.Helper()
	ctx := context.Background()
	keys := keyspace.New(prefix)
	byPartition := map[int][]flight.Event{}
	for _, e := range evs {
		p := flight.Partition(e.Origin, partitions)
		byPartition[p] = append(byPartition[p], e)
	}
	w := store.NewWriter(rdb, keys, flight.Views(), 0)
	for p, pevs := range byPartition {
		a := agg.New(flight.Views(), int64(200*365*24*time.Hour/time.Microsecond), agg.Progress{Offset: -1})
		a.Message(0, pevs)
		l, err := lease.Acquire(ctx, rdb, keys.Lease(p), keys.Fence(p), "w", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(ctx, &store.Flush{Partition: p, Lease: l.Value(), Token: l.Token, Pending: a.Pending()}); err != nil {
			t.Fatal(err)
		}
	}
}
