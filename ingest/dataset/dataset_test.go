package dataset

import (
	"context"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/testenv"
)

// The figures below were measured independently of this code (see
// shared notes: 3,000,000 rows, 229 origins, 3,399 routes, 2001-01-01 00:01 to
// 2001-07-01 00:00, delays from -1,116 to 1,688).
func TestScanWholeFile(t *testing.T) {
	f, err := Open(testenv.DataFile(t, "flights-3m.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.NumRows() != 3_000_000 {
		t.Fatalf("NumRows = %d", f.NumRows())
	}
	var n, skipped int64
	var last int64
	var minD, maxD int32
	origins, routes := map[string]bool{}, map[string]bool{}
	nextRow := int64(0)
	err = f.Scan(context.Background(), 0, -1, func(b *Batch) error {
		if b.FirstRow != nextRow {
			t.Fatalf("batch starts at row %d, want %d", b.FirstRow, nextRow)
		}
		nextRow += b.Rows
		skipped += int64(len(b.Skipped))
		for _, e := range b.Events {
			if e.Time < last {
				t.Fatalf("row %s goes back in time", e.ID)
			}
			last = e.Time
			if n == 0 {
				minD, maxD = e.Delay, e.Delay
				if got := e.EventTime(); !got.Equal(time.Date(2001, 1, 1, 0, 1, 0, 0, time.UTC)) {
					t.Fatalf("first flight at %v", got)
				}
			}
			minD, maxD = min(minD, e.Delay), max(maxD, e.Delay)
			origins[e.Origin] = true
			routes[e.Origin+"-"+e.Destination] = true
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 3_000_000 || skipped != 0 {
		t.Fatalf("scanned %d events and skipped %d, want 3,000,000 and 0", n, skipped)
	}
	if got := time.UnixMicro(last).UTC(); !got.Equal(time.Date(2001, 7, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("last flight at %v", got)
	}
	if len(origins) != 229 || len(routes) != 3399 || minD != -1116 || maxD != 1688 {
		t.Fatalf("%d origins, %d routes, delays %d..%d", len(origins), len(routes), minD, maxD)
	}
}

func TestScanRangeMatchesWholeScan(t *testing.T) {
	f, err := Open(testenv.DataFile(t, "flights-3m.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	collect := func(from, to int64) []string {
		var ids []string
		if err := f.Scan(context.Background(), from, to, func(b *Batch) error {
			for _, e := range b.Events {
				ids = append(ids, e.ID+e.Origin)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return ids
	}
	whole := collect(272_000, 273_500) // crosses the first row-group boundary (272,727)
	if len(whole) != 1500 || whole[0][:11] != EventID(272_000) {
		t.Fatalf("range scan gave %d events starting %q", len(whole), whole[0])
	}
	part := collect(272_700, 272_800)
	for i := range part {
		if part[i] != whole[700+i] {
			t.Fatalf("row %d: %q != %q", 272_700+i, part[i], whole[700+i])
		}
	}
	if got := collect(2_999_999, -1); len(got) != 1 {
		t.Fatalf("last row: %d events", len(got))
	}
	if err := f.Scan(context.Background(), 10, 5, func(*Batch) error { return nil }); err == nil {
		t.Fatal("a reversed range was accepted")
	}
}
