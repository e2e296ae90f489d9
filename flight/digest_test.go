package flight_test

import (
	"testing"

	"github.com/tributary-dev/tributary/flight"
)

// TestBucketHashSeesEveryPart: changing any part of a bucket's content
// (group, each stat, a bin, a count, a destination, where the bins end and
// the destinations start) changes its hash, and the hash of a content is
// fixed: the speed layer's stored digests and the batch layer's must agree
// across versions, so a change of the function is a change of the stored
// format.
func TestBucketHashSeesEveryPart(t *testing.T) {
	base := flight.SketchedBucket{Stats: flight.Stats{Count: 3, Sum: 47, Delayed: 1, Min: -3, Max: 40},
		Bins: []flight.Bin{{Bin: -111, N: 1}, {Bin: 231, N: 1}, {Bin: 371, N: 1}}, Dests: []string{"BOS", "LAX"}}
	const golden = 0x5726150ca0cb7640
	if got := base.Hash("ATL"); got != golden {
		t.Fatalf("hash %#x, was %#x: stored digests no longer match (every hour compared bucket by bucket)", got, uint64(golden))
	}
	variants := map[string]func(b *flight.SketchedBucket) string{
		"group":         func(b *flight.SketchedBucket) string { return "ATM" },
		"longer group":  func(b *flight.SketchedBucket) string { return "ATL\x00" },
		"count":         func(b *flight.SketchedBucket) string { b.Count++; return "ATL" },
		"sum":           func(b *flight.SketchedBucket) string { b.Sum++; return "ATL" },
		"delayed":       func(b *flight.SketchedBucket) string { b.Delayed++; return "ATL" },
		"min":           func(b *flight.SketchedBucket) string { b.Min--; return "ATL" },
		"max":           func(b *flight.SketchedBucket) string { b.Max++; return "ATL" },
		"min and max":   func(b *flight.SketchedBucket) string { b.Min, b.Max = b.Max, b.Min; return "ATL" },
		"a bin":         func(b *flight.SketchedBucket) string { b.Bins[1].Bin++; return "ATL" },
		"a bin's count": func(b *flight.SketchedBucket) string { b.Bins[1].N++; return "ATL" },
		"a bin less":    func(b *flight.SketchedBucket) string { b.Bins = b.Bins[:2]; return "ATL" },
		"a destination": func(b *flight.SketchedBucket) string { b.Dests[1] = "LAS"; return "ATL" },
		"long destinations": func(b *flight.SketchedBucket) string {
			b.Dests = []string{"BOSTON-LOGAN", "LOS-ANGELES"}
			return "ATL"
		},
		"long destinations, another": func(b *flight.SketchedBucket) string {
			b.Dests = []string{"BOSTON-LOGAN", "LOS-ANGELEZ"}
			return "ATL"
		},
		"no destination": func(b *flight.SketchedBucket) string { b.Dests = nil; return "ATL" },
		"destinations joined": func(b *flight.SketchedBucket) string {
			b.Dests = []string{"BOSLAX"}
			return "ATL"
		},
	}
	seen := map[uint64]string{base.Hash("ATL"): "base"}
	for name, change := range variants {
		b := base
		b.Bins = append([]flight.Bin(nil), base.Bins...)
		b.Dests = append([]string(nil), base.Dests...)
		g := change(&b)
		h := b.Hash(g)
		if other, ok := seen[h]; ok {
			t.Errorf("%s: same hash as %s", name, other)
		}
		seen[h] = name
	}
	// The streaming form is the same function.
	h := flight.NewBucketHash("ATL", base.Stats)
	for _, x := range base.Bins {
		h.Bin(x.Bin, x.N)
	}
	for _, d := range base.Dests {
		h.Dest(d)
	}
	if h.Sum() != base.Hash("ATL") {
		t.Fatal("BucketHash and SketchedBucket.Hash differ")
	}
}
