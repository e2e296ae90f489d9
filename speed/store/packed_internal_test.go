package store

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tributary-dev/tributary/flight"
)

// TestUnpackReadsWhatPackWrote: unpack, the one decoder of the readers and
// of the flush, hands back the stats, bins and destinations pack wrote, for
// empty and full buckets, adds the bins to a sketch that already holds some
// (how Sums merges hours), and rejects every truncation of a packed bucket,
// a trailing byte and an unknown version with errPacked.
func TestUnpackReadsWhatPackWrote(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	random := func(n int, dests []string) *state {
		s := &state{}
		for range n {
			d := int32(rng.IntN(3000) - 200)
			s.stats.Add(d)
			s.sketch.Add(d)
		}
		for _, d := range dests {
			s.addDest(d)
		}
		return s
	}
	for _, tc := range []struct {
		name string
		s    *state
	}{
		{"empty", &state{}},
		{"one flight", random(1, []string{"LAX"})},
		{"no destinations", random(40, nil)},
		{"many", random(5000, []string{"SEA", "ATL", "LAX", "BOS", "X"})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := string(tc.s.pack(nil))
			var sk flight.DelaySketch
			var dests []string
			st, err := unpack(p, &sk, func(d string) { dests = append(dests, d) })
			if err != nil {
				t.Fatal(err)
			}
			if st != tc.s.stats || !slices.Equal(bins(&sk), bins(&tc.s.sketch)) || !slices.Equal(dests, tc.s.dests) {
				t.Fatalf("unpacked %+v %v %v, packed %+v %v %v", st, bins(&sk), dests, tc.s.stats, bins(&tc.s.sketch), tc.s.dests)
			}
			// Into a sketch that holds bins already: they add up.
			other := random(300, nil)
			sum := other.sketch.Clone()
			sum.Merge(&tc.s.sketch)
			if _, err := unpack(p, &other.sketch, nil); err != nil || !slices.Equal(bins(&other.sketch), bins(&sum)) {
				t.Fatalf("added bins %v (%v), want %v", bins(&other.sketch), err, bins(&sum))
			}
			for n := range len(p) {
				if _, err := unpack(p[:n], &flight.DelaySketch{}, nil); !errors.Is(err, errPacked) {
					t.Fatalf("the first %d of %d bytes: %v, want errPacked", n, len(p), err)
				}
			}
			if _, err := unpack(p+"\x00", &flight.DelaySketch{}, nil); !errors.Is(err, errPacked) {
				t.Fatalf("a trailing byte: %v, want errPacked", err)
			}
			if _, err := unpack("\x02"+p[1:], &flight.DelaySketch{}, nil); !errors.Is(err, errPacked) {
				t.Fatalf("version 2: %v, want errPacked", err)
			}
		})
	}
}

func bins(s *flight.DelaySketch) []flight.Bin {
	var out []flight.Bin
	s.Each(func(b int32, n int64) { out = append(out, flight.Bin{Bin: b, N: n}) })
	return out
}
