package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/ingest/dataset"
	"github.com/tributary-dev/tributary/internal/lease"
	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/speed/agg"
	"github.com/tributary-dev/tributary/speed/keyspace"
	"github.com/tributary-dev/tributary/speed/store"
)

// BenchmarkFlushDataset flushes the first 200,000 flights of the data set
// through one partition, 4,096 pending buckets per flush: the Redis cost of a
// replay at full speed, without the broker.
func BenchmarkFlushDataset(b *testing.B) {
	f, err := dataset.Open(testenv.DataFile(b, "flights-3m.parquet"))
	if err != nil {
		b.Fatal(err)
	}
	var evs []flight.Event
	_ = f.Scan(context.Background(), 0, 200_000, func(bt *dataset.Batch) error { evs = append(evs, bt.Events...); return nil })
	f.Close()
	rdb := testenv.Redis(b)
	ctx := context.Background()
	for _, maxPending := range []int{512, 2048, 4096} {
		b.Run(fmt.Sprint(maxPending), func(b *testing.B) { flushDataset(b, ctx, rdb, evs, maxPending) })
	}
}

func flushDataset(b *testing.B, ctx context.Context, rdb redis.UniversalClient, evs []flight.Event, maxPending int) {
	for i := 0; i < b.N; i++ {
		keys := keyspace.New(testenv.Prefix(b))
		w := store.NewWriter(rdb, keys, flight.Views(), 0)
		l, _ := lease.Acquire(ctx, rdb, keys.Lease(0), keys.Fence(0), "x", time.Minute)
		a := agg.New(flight.Views(), int64(time.Hour/time.Microsecond), agg.Progress{Offset: -1})
		var flushes int
		var inScript time.Duration
		for j := 0; j < len(evs); j += 1000 {
			a.Message(int64(j/1000), evs[j:min(j+1000, len(evs))])
			if a.PendingBuckets() >= maxPending || j+1000 >= len(evs) {
				t0 := time.Now()
				if err := w.Flush(ctx, &store.Flush{Partition: 0, Lease: l.Value(), Token: l.Token, Pending: a.Pending()}); err != nil {
					b.Fatal(err)
				}
				inScript += time.Since(t0)
				a.Committed()
				flushes++
			}
		}
		b.ReportMetric(float64(inScript.Microseconds())/float64(len(evs)), "µs-flush/event")
		b.ReportMetric(float64(len(evs))/inScript.Seconds(), "events/s")
		b.ReportMetric(float64(flushes), "flushes")
		testenv.DeleteKeys(rdb, keys.Base()+"*")
	}
}
