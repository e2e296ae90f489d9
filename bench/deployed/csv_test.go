package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/ingest/dataset"
	"github.com/tributary-dev/tributary/internal/testenv"
)

// TestWriteCSV compares the CSV of the pandas and Dask references with the
// same rows read by the pipeline's own reader (the test may import it; the
// harness does not).
func TestWriteCSV(t *testing.T) {
	data := testenv.DataFile(t, "flights-3m.parquet")
	const rows = 70000 // more than one record batch
	path := filepath.Join(t.TempDir(), "flights.csv")
	if err := writeCSV(context.Background(), data, path, rows); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	want := []string{"time,origin,destination,delay"}
	f, err := dataset.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = f.Scan(context.Background(), 0, rows, func(bt *dataset.Batch) error {
		for _, e := range bt.Events {
			want = append(want, fmt.Sprintf("%d,%s,%s,%d", e.Time, e.Origin, e.Destination, e.Delay))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("line %d: %q, want %q", i+1, got[i], want[i])
		}
	}
}
