package recompute

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/batch/partial"
	"github.com/tributary-dev/tributary/batch/segment"
	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/ingest/dataset"
)

// datasetSegments splits the data set like the archiver does (8 partitions
// by origin, segments of perSeg events), cached under dir.
func datasetSegments(tb testing.TB, perSeg int) [][][]byte {
	tb.Helper()
	src := filepath.Join("..", "..", "data", "flights-3m.parquet")
	if _, err := os.Stat(src); err != nil {
		tb.Skip("no data set (make data)")
	}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("tributary-perf-segments-%d", perSeg))
	const parts = 8
	if _, err := os.Stat(filepath.Join(dir, "done")); err != nil {
		f, err := dataset.Open(src)
		if err != nil {
			tb.Fatal(err)
		}
		defer f.Close()
		byPart := make([][]flight.Event, parts)
		if err := f.Scan(context.Background(), 0, -1, func(b *dataset.Batch) error {
			for _, e := range b.Events {
				p := flight.Partition(e.Origin, parts)
				byPart[p] = append(byPart[p], e)
			}
			return nil
		}); err != nil {
			tb.Fatal(err)
		}
		for p, evs := range byPart {
			if err := os.MkdirAll(filepath.Join(dir, fmt.Sprint(p)), 0o755); err != nil {
				tb.Fatal(err)
			}
			for i, lo := 0, 0; lo < len(evs); i, lo = i+1, lo+perSeg {
				data, err := segment.Encode(evs[lo:min(lo+perSeg, len(evs))])
				if err != nil {
					tb.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(p), fmt.Sprintf("%04d", i)), data, 0o644); err != nil {
					tb.Fatal(err)
				}
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "done"), nil, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	out := make([][][]byte, parts)
	for p := range parts {
		es, err := os.ReadDir(filepath.Join(dir, fmt.Sprint(p)))
		if err != nil {
			tb.Fatal(err)
		}
		for _, e := range es {
			data, err := os.ReadFile(filepath.Join(dir, fmt.Sprint(p), e.Name()))
			if err != nil {
				tb.Fatal(err)
			}
			out[p] = append(out[p], data)
		}
	}
	return out
}

// BenchmarkDatasetRecompute computes every partial of the data set's 37
// segments and merges each partition's partials, in process, on one core:
// the CPU cost of a full recompute without the scheduler and Redis.
//
//	go test -run '^$' -bench DatasetRecompute -benchtime 3x ./batch/recompute
func BenchmarkDatasetRecompute(b *testing.B) {
	segs := datasetSegments(b, 100_000)
	ctx := context.Background()
	if c, ok := os.LookupEnv("AGG_CODEC"); ok {
		partial.Codec = c
	}
	for b.Loop() {
		var tPartial, tMerge time.Duration
		var partialBytes, nodeBytes, rows int64
		for _, ps := range segs {
			t0 := time.Now()
			var partials [][]byte
			for _, data := range ps {
				out, err := PartialOf(ctx, data)
				if err != nil {
					b.Fatal(err)
				}
				partialBytes += int64(len(out))
				partials = append(partials, out)
			}
			t1 := time.Now()
			aggs, err := partial.Decoded(partials)
			if err != nil {
				b.Fatal(err)
			}
			out, err := partial.Merge(flight.Views(), aggs)
			if err != nil {
				b.Fatal(err)
			}
			tPartial += t1.Sub(t0)
			tMerge += time.Since(t1)
			nodeBytes += int64(len(out))
			a, err := partial.Decode(out)
			if err != nil {
				b.Fatal(err)
			}
			rows += a.Rows()
		}
		b.ReportMetric(tPartial.Seconds(), "partial-s")
		b.ReportMetric(tMerge.Seconds(), "merge-s")
		b.ReportMetric(float64(partialBytes)/1e6, "partial-MB")
		b.ReportMetric(float64(nodeBytes)/1e6, "node-MB")
		b.ReportMetric(float64(rows), "rows")
	}
}

// BenchmarkPartial computes the partial of one of the data set's 100,000-event segments.
func BenchmarkPartial(b *testing.B) {
	data := datasetSegments(b, 100_000)[0][0]
	if c, ok := os.LookupEnv("AGG_CODEC"); ok {
		partial.Codec = c
	}
	ctx := context.Background()
	for b.Loop() {
		out, err := PartialOf(ctx, data)
		if err != nil {
			b.Fatal(err)
		}
		partial.Recycle(out)
	}
}

// TestDatasetPartials compares the columnar partial of every segment of the
// data set with Builder's (TRIBUTARY_DATASET_CHECK=1; ~10 s).
func TestDatasetPartials(t *testing.T) {
	if os.Getenv("TRIBUTARY_DATASET_CHECK") == "" {
		t.Skip("set TRIBUTARY_DATASET_CHECK=1")
	}
	ctx := context.Background()
	for _, ps := range datasetSegments(t, 100_000) {
		for _, data := range ps {
			got, err := PartialOf(ctx, data)
			if err != nil {
				t.Fatal(err)
			}
			evs, err := segment.Decode(ctx, data)
			if err != nil {
				t.Fatal(err)
			}
			b := partial.NewBuilder(flight.Views())
			for _, e := range evs {
				b.Add(e.Time, e.Origin, e.Destination, e.Delay)
			}
			want, err := b.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("segment of %d events: partial differs from Builder's", len(evs))
			}
		}
	}
}
