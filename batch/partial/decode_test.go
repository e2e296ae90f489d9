package partial

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tributary-dev/tributary/flight"
)

// TestDecodeViews checks that decoding some views gives exactly those
// views' tables, row for row as a whole decode gives them, and that a
// damaged aggregate is refused whatever the views asked for.
func TestDecodeViews(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	b := NewBuilder(flight.Views())
	codes := []string{"ATL", "LAX", "ORD", "BOS", "SFO"}
	for range 5000 {
		b.Add(978307200_000000+r.Int64N(72*3600e6), codes[r.IntN(len(codes))], codes[r.IntN(len(codes))], r.Int32N(300)-30)
	}
	data, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	whole, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(whole.Views, []string{"airport_hour", "route_hour"}) {
		t.Fatalf("views %v", whole.Views)
	}
	for _, tc := range []struct {
		name  string
		views []string
		want  []string
	}{
		{"all", nil, []string{"airport_hour", "route_hour"}},
		{"first", []string{"airport_hour"}, []string{"airport_hour"}},
		{"second", []string{"route_hour"}, []string{"route_hour"}},
		{"both, any order", []string{"route_hour", "airport_hour"}, []string{"airport_hour", "route_hour"}},
		{"unknown", []string{"carrier_day"}, nil},
		{"none", []string{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := DecodeViews(data, tc.views)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(a.Views, tc.want) || len(a.Tables) != len(tc.want) {
				t.Fatalf("views %v (%d tables), want %v", a.Views, len(a.Tables), tc.want)
			}
			for _, v := range tc.want {
				if whole.Table(v).Len() == 0 {
					t.Fatalf("%s: no row to compare", v)
				}
				sameTable(t, whole.Table(v), a.Table(v))
			}
			for _, v := range whole.Views {
				if !slices.Contains(tc.want, v) && a.Table(v) != nil {
					t.Fatalf("%s decoded though not asked for", v)
				}
			}
		})
	}
	for _, views := range [][]string{nil, {"airport_hour"}, {"route_hour"}} {
		for _, cut := range []int{len(data) / 3, len(data) - 9} {
			if _, err := DecodeViews(data[:cut], views); !errors.Is(err, ErrFormat) {
				t.Fatalf("views %v, cut at %d of %d: err %v, want ErrFormat", views, cut, len(data), err)
			}
		}
	}
}

// sameTable compares two tables row by row: groups, hours, stats, the
// histograms (expanded, and as stored), the destinations.
func sameTable(t *testing.T, want, got *Table) {
	t.Helper()
	if want.Len() != got.Len() {
		t.Fatalf("%d rows, want %d", got.Len(), want.Len())
	}
	for i := 0; i < want.Len(); i++ {
		if want.Group(i) != got.Group(i) || want.Hour(i) != got.Hour(i) || want.Stats(i) != got.Stats(i) || want.NumDests(i) != got.NumDests(i) {
			t.Fatalf("row %d: %s %d %+v, want %s %d %+v", i, got.Group(i), got.Hour(i), got.Stats(i), want.Group(i), want.Hour(i), want.Stats(i))
		}
		var wh, gh []int64
		want.Hist(i, func(d int32, n int64) { wh = append(wh, int64(d), n) })
		got.Hist(i, func(d int32, n int64) { gh = append(gh, int64(d), n) })
		if !slices.Equal(wh, gh) {
			t.Fatalf("row %d: histogram %v, want %v", i, gh, wh)
		}
		wlo, whi := want.hd.ValueOffsets(i)
		glo, ghi := got.hd.ValueOffsets(i)
		if whi-wlo != ghi-glo {
			t.Fatalf("row %d: stored histogram of %d delays, want %d", i, ghi-glo, whi-wlo)
		}
		for j := range want.NumDests(i) {
			if want.Dest(i, j) != got.Dest(i, j) {
				t.Fatalf("row %d: destination %d differs", i, j)
			}
		}
	}
}
