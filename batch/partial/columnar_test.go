package partial

import (
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/tributary-dev/tributary/flight"
)

type strs []string

func (s strs) Len() int           { return len(s) }
func (s strs) Value(i int) string { return s[i] }

// TestColumnarLikeBuilder checks that Columnar encodes exactly what Builder does.
func TestColumnarLikeBuilder(t *testing.T) {
	codes := []string{"ATL", "LAX", "ORD", "BOS", "SFO", "DEN", "JFK", "A1B2", "ZZZ", "ATLA", "AT1"}
	for _, tc := range []struct {
		name          string
		n, codes, hrs int
		dlo, dhi      int32
		bad           bool
	}{
		{"empty", 0, 3, 10, 0, 10, false},
		{"one", 1, 3, 10, 0, 10, false},
		{"small", 50, 4, 5, -5, 30, false},
		{"dense", 20000, 11, 48, -60, 600, false},
		{"sparse", 5000, 11, 100000, flight.MinDelay, flight.MaxDelay, false},
		{"odd codes", 3000, 6, 20, -10, 100, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(tc.n)))
			cs := codes[:tc.codes]
			if tc.bad {
				cs = append([]string{"A-B", "A B"}, cs...)
			}
			b := NewBuilder(flight.Views())
			c := NewColumnar(flight.Views())
			var ts []arrow.Timestamp
			var or, de strs
			var dl []int32
			base := int64(978307200_000000)
			for i := 0; i < tc.n; i++ {
				tm := base + r.Int64N(int64(tc.hrs)*3600e6)
				o, d := cs[r.IntN(len(cs))], cs[r.IntN(len(cs))]
				delay := tc.dlo + r.Int32N(tc.dhi-tc.dlo+1)
				b.Add(tm, o, d, delay)
				ts, or, de, dl = append(ts, arrow.Timestamp(tm)), append(or, o), append(de, d), append(dl, delay)
			}
			// In two batches, as a segment's record batches.
			h := len(dl) / 2
			c.AddColumns(h, ts[:h], or[:h], de[:h], dl[:h])
			c.AddColumns(len(dl)-h, ts[h:], or[h:], de[h:], dl[h:])
			want, err := b.Encode()
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Encode()
			if err != nil {
				t.Fatal(err)
			}
			sameAggregate(t, want, got)
		})
	}
}

// sameAggregate compares two encoded aggregates row by row.
func sameAggregate(t *testing.T, want, got []byte) {
	t.Helper()
	wa, err := Decode(want)
	if err != nil {
		t.Fatal(err)
	}
	ga, err := Decode(got)
	if err != nil {
		t.Fatal(err)
	}
	if len(wa.Tables) != len(ga.Tables) {
		t.Fatalf("%d tables, want %d", len(ga.Tables), len(wa.Tables))
	}
	for ti, wt := range wa.Tables {
		sameTable(t, wt, ga.Tables[ti])
	}
}

// TestMergeLikeBuilder checks that merging the aggregates of parts of the
// events is exactly the aggregate of all of them.
func TestMergeLikeBuilder(t *testing.T) {
	codes := []string{"ATL", "LAX", "ORD", "BOS", "SFO", "DEN", "JFK"}
	for _, parts := range []int{1, 2, 3, 7} {
		r := rand.New(rand.NewPCG(2, uint64(parts)))
		all := NewBuilder(flight.Views())
		bs := make([]*Columnar, parts)
		for i := range bs {
			bs[i] = NewColumnar(flight.Views())
		}
		base := int64(978307200_000000)
		for i := 0; i < 30000; i++ {
			tm := base + r.Int64N(200*3600e6)
			o, d := codes[r.IntN(len(codes))], codes[r.IntN(len(codes))]
			delay := int32(r.IntN(120) - 20)
			all.Add(tm, o, d, delay)
			p := r.IntN(parts)
			if r.IntN(4) == 0 {
				p = int(tm/3600e6) % parts // long runs from one part
			}
			bs[p].AddColumns(1, []arrow.Timestamp{arrow.Timestamp(tm)}, strs{o}, strs{d}, []int32{delay})
		}
		var encs [][]byte
		for _, b := range bs {
			e, err := b.Encode()
			if err != nil {
				t.Fatal(err)
			}
			encs = append(encs, e)
		}
		aggs, err := Decoded(encs)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Merge(flight.Views(), aggs)
		if err != nil {
			t.Fatal(err)
		}
		want, err := all.Encode()
		if err != nil {
			t.Fatal(err)
		}
		sameAggregate(t, want, got)
		// Merging merged nodes with an empty one changes nothing.
		empty, _ := NewColumnar(flight.Views()).Encode()
		aggs2, err := Decoded([][]byte{got, empty})
		if err != nil {
			t.Fatal(err)
		}
		got2, err := Merge(flight.Views(), aggs2)
		if err != nil {
			t.Fatal(err)
		}
		sameAggregate(t, want, got2)
	}
}
