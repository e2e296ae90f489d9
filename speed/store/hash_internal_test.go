package store

import (
	"context"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/ingest/dataset"
	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/speed/agg"
)

// BenchmarkBucketHashVsPack: what a flush adds per bucket written to keep
// its hour's digest (State.hash) against what it already spends packing
// the bucket, on the buckets of the first 200,000 flights of the data set.
func BenchmarkBucketHashVsPack(b *testing.B) {
	f, err := dataset.Open(testenv.DataFile(b, "flights-3m.parquet"))
	if err != nil {
		b.Fatal(err)
	}
	var evs []flight.Event
	_ = f.Scan(context.Background(), 0, 200_000, func(bt *dataset.Batch) error { evs = append(evs, bt.Events...); return nil })
	f.Close()
	a := agg.New(flight.Views(), int64(200*365*24*time.Hour/time.Microsecond), agg.Progress{Offset: -1})
	a.Message(0, evs)
	type bucket struct {
		group string
		b     *state
	}
	var bs []bucket
	for id, d := range a.Pending().Buckets {
		st := &state{}
		st.merge(d)
		bs = append(bs, bucket{id.Group, st})
	}
	b.Run("hash", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for _, x := range bs {
				hash(x.group, x.b)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(bs)), "ns/bucket")
	})
	b.Run("pack", func(b *testing.B) {
		var buf []byte
		for i := 0; i < b.N; i++ {
			for _, x := range bs {
				buf = x.b.pack(buf[:0])
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(bs)), "ns/bucket")
	})
}
