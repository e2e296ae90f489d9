package flight

import (
	"sort"
	"testing"
)

// naiveQuantile sorts every value: the independent computation the histogram must match.
func naiveQuantile(vals []int32, q float64) int32 {
	s := append([]int32(nil), vals...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[Rank(q, int64(len(s)))-1]
}

func TestHistogramQuantilesMatchSort(t *testing.T) {
	cases := [][]int32{
		{0},
		{5, -3},
		{1, 1, 1, 1, 2},
		{-45, 0, 0, 3, 15, 16, 56, 114, 415, -2, 7, 7, 8},
	}
	for _, vals := range cases {
		var h Histogram
		var s Stats
		for _, v := range vals {
			h.Add(v)
			s.Add(v)
		}
		qs := []float64{0, 0.01, 0.5, 0.95, 0.99, 1}
		got, ok := h.Quantiles(qs...)
		if !ok {
			t.Fatal("Quantiles on a non-empty histogram said empty")
		}
		for i, q := range qs {
			if want := naiveQuantile(vals, q); got[i] != want {
				t.Errorf("%v: q=%v got %d want %d", vals, q, got[i], want)
			}
		}
		if s.Min != naiveQuantile(vals, 0) || s.Max != naiveQuantile(vals, 1) {
			t.Errorf("%v: min/max %d/%d", vals, s.Min, s.Max)
		}
	}
}

func TestHistogramMergeEqualsWhole(t *testing.T) {
	var a, b, whole Histogram
	var sa, sb, swhole Stats
	for i := int32(-20); i < 80; i++ {
		v := (i * 37) % 61
		whole.Add(v)
		swhole.Add(v)
		if i%3 == 0 {
			a.Add(v)
			sa.Add(v)
		} else {
			b.Add(v)
			sb.Add(v)
		}
	}
	a.Merge(&b)
	sa.Merge(sb)
	if sa != swhole {
		t.Fatalf("merged stats %+v != whole %+v", sa, swhole)
	}
	g1, _ := a.Quantiles(0.5, 0.95, 0.99)
	g2, _ := whole.Quantiles(0.5, 0.95, 0.99)
	for i := range g1 {
		if g1[i] != g2[i] {
			t.Fatalf("merged quantiles %v != whole %v", g1, g2)
		}
	}
	if _, ok := (&Histogram{}).Quantiles(0.5); ok {
		t.Fatal("empty histogram gave a quantile")
	}
}
