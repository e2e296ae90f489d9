package flight

import (
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSketchBinsAreOrderedAndAccurate(t *testing.T) {
	prev := SketchBin(MinDelay)
	for d := int32(MinDelay); d <= MaxDelay; d++ {
		b := SketchBin(d)
		if b < prev {
			t.Fatalf("bin of %d (%d) < bin of %d (%d): bins must follow delay order", d, b, d-1, prev)
		}
		prev = b
		if !WithinSketchBound(SketchBinValue(b), d) {
			t.Fatalf("delay %d: bin %d value %v is not within α", d, b, SketchBinValue(b))
		}
	}
	if SketchBinValue(SketchBin(0)) != 0 {
		t.Fatal("0 must come out exactly 0")
	}
}

func TestSketchQuantilesWithinBoundOfHistogram(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	qs := append(Percentiles(), 0, 0.01, 1)
	for trial := 0; trial < 200; trial++ {
		var a, b DelaySketch
		var h Histogram
		n := 1 + r.IntN(2000)
		for i := 0; i < n; i++ {
			var d int32
			switch r.IntN(4) {
			case 0:
				d = 0
			case 1:
				d = int32(r.IntN(30)) - 15
			default:
				d = int32(r.NormFloat64()*80) + int32(r.IntN(3))
			}
			h.Add(d)
			if i%2 == 0 {
				a.Add(d)
			} else {
				b.Add(d)
			}
		}
		a.Merge(&b) // merged halves must answer like the whole
		got, ok := a.Quantiles(qs...)
		want, _ := h.Quantiles(qs...)
		if !ok || a.Count() != h.Count() {
			t.Fatalf("count %d, want %d", a.Count(), h.Count())
		}
		for i := range qs {
			if !WithinSketchBound(got[i], want[i]) {
				t.Fatalf("trial %d q=%v: sketch %v, exact %d: outside α=%v", trial, qs[i], got[i], want[i], SketchRelativeAccuracy)
			}
		}
	}
}

func TestPercentileName(t *testing.T) {
	for q, want := range map[float64]string{0.5: "p50", 0.95: "p95", 0.99: "p99", 0.999: "p99.9"} {
		if got := PercentileName(q); got != want {
			t.Errorf("PercentileName(%v) = %q, want %q", q, got, want)
		}
	}
}

// refSketch is the sketch as it was kept before the sorted slice, a map of
// bin counts walked in sorted order: the reference the slice must match.
type refSketch struct {
	bins map[int32]int64
	n    int64
}

func (r *refSketch) addBin(bin int32, n int64) {
	if r.bins == nil {
		r.bins = map[int32]int64{}
	}
	r.bins[bin] += n
	r.n += n
}

func (r *refSketch) sorted() []Bin {
	out := make([]Bin, 0, len(r.bins))
	for _, b := range slices.Sorted(maps.Keys(r.bins)) {
		out = append(out, Bin{Bin: b, N: r.bins[b]})
	}
	return out
}

func binsOf(s *DelaySketch) []Bin {
	var out []Bin
	s.Each(func(bin int32, n int64) { out = append(out, Bin{Bin: bin, N: n}) })
	return out
}

// TestSketchMatchesMapReference: whatever the order of adds and merges, the
// sketch holds the bins and counts that the map-based sketch held, walks
// them in increasing order, and answers the same quantiles.
func TestSketchMatchesMapReference(t *testing.T) {
	gen := map[string]func(r *rand.Rand) int32{
		"zero only":       func(*rand.Rand) int32 { return 0 },
		"negative only":   func(r *rand.Rand) int32 { return -1 - int32(r.IntN(500)) },
		"around zero":     func(r *rand.Rand) int32 { return int32(r.IntN(41)) - 20 },
		"flight-like":     func(r *rand.Rand) int32 { return int32(r.NormFloat64()*60) + 10 },
		"full valid span": func(r *rand.Rand) int32 { return MinDelay + int32(r.IntN(MaxDelay-MinDelay+1)) },
		"beyond table": func(r *rand.Rand) int32 {
			d := binTableHalf + int32(r.IntN(MaxDelay-binTableHalf+1))
			if r.IntN(2) == 0 {
				return -d
			}
			return d
		},
	}
	for name, g := range gen {
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, uint64(len(name))))
			for trial := 0; trial < 100; trial++ {
				// Several parts built by Add, merged in a random order into
				// one, against one reference fed every value.
				parts := make([]DelaySketch, 1+r.IntN(4))
				var ref refSketch
				for i, n := 0, r.IntN(600); i < n; i++ {
					d := g(r)
					parts[r.IntN(len(parts))].Add(d)
					ref.addBin(sketchBin(d), 1)
				}
				var all DelaySketch
				for _, i := range r.Perm(len(parts)) {
					all.Merge(&parts[i])
				}
				want := ref.sorted()
				if got := binsOf(&all); !slices.Equal(got, want) {
					t.Fatalf("trial %d: bins %v, want %v", trial, got, want)
				}
				if all.Count() != ref.n || all.Len() != len(ref.bins) {
					t.Fatalf("trial %d: count %d len %d, want %d %d", trial, all.Count(), all.Len(), ref.n, len(ref.bins))
				}
				qs := []float64{0, 0.01, 0.5, 0.95, 0.99, 1}
				got, ok := all.Quantiles(qs...)
				if ok != (ref.n > 0) {
					t.Fatalf("trial %d: ok %v with %d values", trial, ok, ref.n)
				}
				for i, q := range qs {
					if !ok {
						break
					}
					var seen int64
					var wantBin int32
					for _, b := range want {
						seen += b.N
						if seen >= Rank(q, ref.n) {
							wantBin = b.Bin
							break
						}
					}
					if got[i] != SketchBinValue(wantBin) {
						t.Fatalf("trial %d q=%v: %v, want bin %d's %v", trial, q, got[i], wantBin, SketchBinValue(wantBin))
					}
				}
			}
		})
	}
}

// TestSketchAddBinAnyOrder: bins added in any order (and repeated) end up
// sorted and summed; zero counts are ignored.
func TestSketchAddBinAnyOrder(t *testing.T) {
	cases := []struct {
		name string
		add  []Bin
		want []Bin
	}{
		{"empty", nil, nil},
		{"zero count ignored", []Bin{{3, 0}}, nil},
		{"increasing appends", []Bin{{-5, 1}, {0, 2}, {7, 3}}, []Bin{{-5, 1}, {0, 2}, {7, 3}}},
		{"decreasing inserts", []Bin{{7, 3}, {0, 2}, {-5, 1}}, []Bin{{-5, 1}, {0, 2}, {7, 3}}},
		{"repeats sum", []Bin{{2, 1}, {-1, 1}, {2, 4}, {-1, 2}, {0, 1}}, []Bin{{-1, 3}, {0, 1}, {2, 5}}},
		{"middle insert", []Bin{{1, 1}, {9, 1}, {5, 1}, {3, 1}, {7, 1}}, []Bin{{1, 1}, {3, 1}, {5, 1}, {7, 1}, {9, 1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s DelaySketch
			var n int64
			for _, b := range c.add {
				s.AddBin(b.Bin, b.N)
				n += b.N
			}
			if got := binsOf(&s); !slices.Equal(got, c.want) || s.Count() != n || s.Len() != len(c.want) {
				t.Fatalf("bins %v count %d, want %v count %d", got, s.Count(), c.want, n)
			}
		})
	}
}

// TestSketchMergeCases: merging is adding every bin of the other sketch,
// whatever the overlap, and leaves the other sketch unchanged.
func TestSketchMergeCases(t *testing.T) {
	cases := []struct {
		name string
		a, b []Bin
		want []Bin
	}{
		{"both empty", nil, nil, nil},
		{"into empty", nil, []Bin{{-2, 1}, {4, 2}}, []Bin{{-2, 1}, {4, 2}}},
		{"from empty", []Bin{{-2, 1}}, nil, []Bin{{-2, 1}}},
		{"disjoint after", []Bin{{-2, 1}}, []Bin{{0, 1}, {3, 1}}, []Bin{{-2, 1}, {0, 1}, {3, 1}}},
		{"disjoint before", []Bin{{5, 1}}, []Bin{{-9, 2}, {0, 1}}, []Bin{{-9, 2}, {0, 1}, {5, 1}}},
		{"interleaved", []Bin{{-3, 1}, {1, 1}, {6, 1}}, []Bin{{-4, 1}, {0, 1}, {2, 1}, {9, 1}},
			[]Bin{{-4, 1}, {-3, 1}, {0, 1}, {1, 1}, {2, 1}, {6, 1}, {9, 1}}},
		{"same bins", []Bin{{-1, 1}, {0, 2}, {8, 3}}, []Bin{{-1, 10}, {0, 20}, {8, 30}}, []Bin{{-1, 11}, {0, 22}, {8, 33}}},
		{"overlap and new", []Bin{{-1, 1}, {4, 1}}, []Bin{{-7, 1}, {-1, 1}, {2, 1}, {4, 1}, {11, 1}},
			[]Bin{{-7, 1}, {-1, 2}, {2, 1}, {4, 2}, {11, 1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var a, b DelaySketch
			for _, x := range c.a {
				a.AddBin(x.Bin, x.N)
			}
			for _, x := range c.b {
				b.AddBin(x.Bin, x.N)
			}
			before := binsOf(&b)
			a.Merge(&b)
			var n int64
			for _, x := range c.want {
				n += x.N
			}
			if got := binsOf(&a); !slices.Equal(got, c.want) || a.Count() != n {
				t.Fatalf("merged %v count %d, want %v count %d", got, a.Count(), c.want, n)
			}
			if got := binsOf(&b); !slices.Equal(got, before) {
				t.Fatalf("merge changed its argument: %v, was %v", got, before)
			}
		})
	}
}

// TestSketchCloneIsIndependent: a clone changes without changing the
// original (a copy of the struct would share its bins).
func TestSketchCloneIsIndependent(t *testing.T) {
	var s DelaySketch
	for _, d := range []int32{-30, 0, 5, 60} {
		s.Add(d)
	}
	want := binsOf(&s)
	c := s.Clone()
	c.Add(5)
	c.Add(-1000)
	c.Add(7)
	if got := binsOf(&s); !slices.Equal(got, want) || s.Count() != 4 {
		t.Fatalf("original changed: %v", got)
	}
	if c.Count() != 7 {
		t.Fatalf("clone count %d, want 7", c.Count())
	}
	s.Reset()
	if s.Count() != 0 || s.Len() != 0 {
		t.Fatal("Reset must empty the sketch")
	}
	if _, ok := s.Quantiles(0.5); ok {
		t.Fatal("an empty sketch has no quantiles")
	}
}

// TestSketchBinTable: the looked-up bins are the computed ones, on both
// sides of the table's edge.
func TestSketchBinTable(t *testing.T) {
	for d := int32(MinDelay); d <= MaxDelay; d++ {
		if got, want := SketchBin(d), sketchBin(d); got != want {
			t.Fatalf("SketchBin(%d) = %d, computed %d", d, got, want)
		}
	}
}
