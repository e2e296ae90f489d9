package speed

import (
	"context"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/ingest/dataset"
	"github.com/tributary-dev/tributary/ingest/feed"
	"github.com/tributary-dev/tributary/ingest/topology"
	"github.com/tributary-dev/tributary/internal/clock"
	"github.com/tributary-dev/tributary/internal/lease"
	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/speed/keyspace"
	"github.com/tributary-dev/tributary/speed/store"
)

// waitFor polls cond (real time) until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPartitionFlushesOnItsClock drives one partition with a manual clock:
// everything is consumed but nothing committed until the flush interval
// passes on the clock; the commit then holds every consumed offset and event;
// a hand-over flushes what came since and releases the lease.
func TestPartitionFlushesOnItsClock(t *testing.T) {
	ctx := context.Background()
	rdb, conn := testenv.Redis(t), testenv.AMQP(t)
	prefix := testenv.Prefix(t)
	streams := topology.Streams{Prefix: prefix, Partitions: 2}
	keys := keyspace.New(prefix)
	t.Cleanup(func() {
		if ch, err := conn.Channel(); err == nil {
			_ = streams.Delete(ch)
		}
		testenv.DeleteKeys(rdb, keys.Base()+"*")
	})
	data := testenv.DataFile(t, "flights-3m.parquet")
	first, err := feed.Publish(ctx, conn, streams, feed.Options{DataPath: data, To: 3000, Batch: 100, Producer: "t"})
	if err != nil {
		t.Fatal(err)
	}
	g, err := lease.Acquire(ctx, rdb, keys.Lease(0), keys.Fence(0), "w", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewManual(time.Unix(0, 0))
	cfg := Config{Redis: rdb, AMQP: conn, Streams: streams, KeyPrefix: prefix, WorkerID: "w",
		FlushInterval: time.Hour, AllowedLateness: 100 * 24 * time.Hour, Clock: clk, Log: quiet()}
	if err := cfg.setDefaults(); err != nil {
		t.Fatal(err)
	}
	r := newRun(0, g)
	pt := &partition{cfg: &cfg, keys: keys, views: flight.Views(), writer: store.NewWriter(rdb, keys, flight.Views(), 0), r: r, log: quiet()}
	errc := make(chan error, 1)
	go func() { defer close(r.done); errc <- pt.run(ctx) }()

	reader := store.NewReader(rdb, prefix, streams.Partitions)
	committed := func() store.PartitionState {
		st, err := reader.Partition(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	last := first.Messages[0] - 1
	waitFor(t, "partition 0 to consume its messages", func() bool { return r.consumed.Load() == last })
	if st := committed(); st.Offset != -1 {
		t.Fatalf("committed offset %d before the flush interval passed on the clock", st.Offset)
	}
	waitFor(t, "the flush ticker", func() bool { return clk.Tickers() == 1 })
	clk.Advance(time.Hour)
	waitFor(t, "the flush", func() bool { return committed().Offset == last })
	st := committed()
	events := countPartition(t, data, 0, 3000, streams)
	if st.Applied != events || st.Late != 0 || st.Duplicates != 0 {
		t.Fatalf("committed %+v, want %d events applied", st, events)
	}

	// The same rows again (same seqs: duplicates), then a hand-over.
	again, err := feed.Publish(ctx, conn, streams, feed.Options{DataPath: data, To: 3000, Batch: 100, Producer: "t"})
	if err != nil {
		t.Fatal(err)
	}
	last += again.Messages[0]
	waitFor(t, "the second batch to be consumed", func() bool { return r.consumed.Load() == last })
	r.handOver()
	if err := <-errc; err != nil {
		t.Fatalf("hand-over: %v", err)
	}
	st = committed()
	if st.Offset != last || st.Applied != events || st.Duplicates != events {
		t.Fatalf("after hand-over %+v, want offset %d, %d applied and %d duplicates", st, last, events, events)
	}
	if v, _ := lease.Holder(ctx, rdb, keys.Lease(0)); v != "" {
		t.Fatalf("lease still held by %q after the hand-over", v)
	}
}

// countPartition counts the rows [0, to) of the data set that go to partition p.
func countPartition(t *testing.T, data string, p int, to int64, streams topology.Streams) int64 {
	t.Helper()
	f, err := dataset.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var n int64
	err = f.Scan(context.Background(), 0, to, func(b *dataset.Batch) error {
		for i := range b.Events {
			if streams.PartitionOf(b.Events[i].Origin) == p {
				n++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
