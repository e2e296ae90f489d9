package recompute

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/tributary-dev/tributary/batch/partial"
	"github.com/tributary-dev/tributary/batch/segment"
	"github.com/tributary-dev/tributary/flight"
)

// TestPartialOfLikeBuilder checks the columnar partial of a segment of
// several record batches against Builder over its decoded events.
func TestPartialOfLikeBuilder(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var codes []string
	for i := 0; i < 60; i++ {
		codes = append(codes, fmt.Sprintf("%c%c%c", 'A'+r.IntN(26), 'A'+r.IntN(26), '0'+r.IntN(10)))
	}
	codes = append(codes, "ATLX", "ATL")
	var evs []flight.Event
	base := int64(978307200_000000)
	for i := 0; i < 150_000; i++ {
		evs = append(evs, flight.Event{ID: fmt.Sprint(i), Time: base + r.Int64N(90*24*3600e6), Origin: codes[r.IntN(len(codes))],
			Destination: codes[r.IntN(len(codes))], Delay: int32(r.IntN(400) - 60), Distance: 100, Producer: "p", Seq: uint64(i + 1)})
	}
	data, err := segment.Encode(evs)
	if err != nil {
		t.Fatal(err)
	}
	first := evs[0].Time
	for _, e := range evs {
		first = min(first, e.Time)
	}
	first = first / 3600e6 * 3600
	for range 2 { // twice: the second reuses pooled buffers
		got, _, events, firstHour, err := partialOf(context.Background(), data)
		if err != nil {
			t.Fatal(err)
		}
		if events != int64(len(evs)) || firstHour != first {
			t.Fatalf("%d events from hour %d, want %d from %d", events, firstHour, len(evs), first)
		}
		b := partial.NewBuilder(flight.Views())
		for _, e := range evs {
			b.Add(e.Time, e.Origin, e.Destination, e.Delay)
		}
		want, err := b.Encode()
		if err != nil {
			t.Fatal(err)
		}
		ga, _ := partial.Decode(got)
		wa, _ := partial.Decode(want)
		if h := ga.FirstHour(); h != first {
			t.Fatalf("the aggregate's first hour %d, want %d", h, first)
		}
		for ti := range wa.Tables {
			wt, gt := wa.Tables[ti], ga.Tables[ti]
			if wt.Len() != gt.Len() {
				t.Fatalf("table %d: %d rows, want %d", ti, gt.Len(), wt.Len())
			}
			for i := 0; i < wt.Len(); i++ {
				if wt.Group(i) != gt.Group(i) || wt.Hour(i) != gt.Hour(i) || wt.Stats(i) != gt.Stats(i) || wt.NumDests(i) != gt.NumDests(i) {
					t.Fatalf("table %d row %d differs", ti, i)
				}
				var wh, gh []int64
				wt.Hist(i, func(d int32, n int64) { wh = append(wh, int64(d), n) })
				gt.Hist(i, func(d int32, n int64) { gh = append(gh, int64(d), n) })
				if fmt.Sprint(wh) != fmt.Sprint(gh) {
					t.Fatalf("table %d row %d: histogram %v, want %v", ti, i, gh, wh)
				}
				for j := 0; j < wt.NumDests(i); j++ {
					if wt.Dest(i, j) != gt.Dest(i, j) {
						t.Fatalf("table %d row %d: destinations differ", ti, i)
					}
				}
			}
		}
	}
}
