package dedup_test

import (
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tributary-dev/tributary/ingest/dedup"
)

func TestSeqs(t *testing.T) {
	type ev struct {
		producer string
		seq      uint64
		admit    bool
	}
	mark := func(high uint64, gaps ...dedup.Range) dedup.Mark { return dedup.Mark{High: high, Gaps: gaps} }
	for _, tc := range []struct {
		name      string
		committed map[string]dedup.Mark
		events    []ev
		changed   map[string]string
	}{
		{"fresh", nil, []ev{{"a", 1, true}, {"a", 2, true}, {"a", 2, false}, {"b", 1, true}}, map[string]string{"a": "2", "b": "1"}},
		{"committed seqs are retries", map[string]dedup.Mark{"a": mark(5)}, []ev{{"a", 3, false}, {"a", 5, false}, {"a", 6, true}},
			map[string]string{"a": "6"}},
		{"a skipped seq arrives late, once", nil,
			[]ev{{"a", 1, true}, {"a", 4, true}, {"a", 3, true}, {"a", 3, false}, {"a", 2, true}, {"a", 2, false}, {"a", 5, true}},
			map[string]string{"a": "5"}},
		{"a gap split in two, then filled from both ends", nil,
			[]ev{{"a", 10, true}, {"a", 5, true}, {"a", 5, false}, {"a", 1, true}, {"a", 9, true}, {"a", 11, true}},
			map[string]string{"a": "11 2-4,6-8"}},
		{"committed gaps are still awaited", map[string]dedup.Mark{"a": mark(20, dedup.Range{Lo: 7, Hi: 8})},
			[]ev{{"a", 6, false}, {"a", 8, true}, {"a", 8, false}, {"a", 9, false}, {"a", 7, true}, {"a", 20, false}},
			map[string]string{"a": "20"}},
		{"seq 0 is never deduplicated", map[string]dedup.Mark{"a": mark(5)}, []ev{{"a", 0, true}, {"a", 0, true}, {"", 0, true}},
			map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := dedup.New(tc.committed)
			for i, e := range tc.events {
				if got := s.Admit(e.producer, e.seq); got != e.admit {
					t.Fatalf("event %d %+v: admitted %v", i, e, got)
				}
			}
			got := map[string]string{}
			for p, m := range s.Changed() {
				got[p] = m.String()
			}
			if !maps.Equal(got, tc.changed) {
				t.Fatalf("changed %v, want %v", got, tc.changed)
			}
			committed := s.Changed()
			s.Committed()
			if got := s.Changed(); len(got) != 0 {
				t.Fatalf("changed after commit: %v", got)
			}
			for _, e := range tc.events { // replayed after the commit: all retries
				if e.seq != 0 && s.Admit(e.producer, e.seq) {
					t.Fatalf("%+v admitted again after commit", e)
				}
			}
			// And so for a consumer that restarts from the committed marks.
			for p, m := range tc.committed {
				if _, ok := committed[p]; !ok {
					committed[p] = m
				}
			}
			r := dedup.New(committed)
			for _, e := range tc.events {
				if e.seq != 0 && r.Admit(e.producer, e.seq) {
					t.Fatalf("%+v admitted again after a restart from the committed marks", e)
				}
			}
		})
	}
}

// TestClassify: an admitted seq is a refill when it fills a gap below its
// producer's highest seq (the speed layer never calls those late), also
// across a restart from the committed marks.
func TestClassify(t *testing.T) {
	const (
		dup    = dedup.Duplicate
		order  = dedup.InOrder
		refill = dedup.Refill
	)
	type ev struct {
		producer string
		seq      uint64
		want     dedup.Admission
	}
	for _, tc := range []struct {
		name      string
		committed map[string]dedup.Mark
		events    []ev
	}{
		{"in order", nil, []ev{{"a", 1, order}, {"a", 2, order}, {"a", 5, order}, {"a", 2, dup}}},
		{"skipped seqs come back as refills, once", nil,
			[]ev{{"a", 1, order}, {"a", 4, order}, {"a", 3, refill}, {"a", 2, refill}, {"a", 3, dup}, {"a", 5, order}}},
		{"a committed gap is refilled after a restart", map[string]dedup.Mark{"a": {High: 9, Gaps: []dedup.Range{{Lo: 4, Hi: 6}}}},
			[]ev{{"a", 5, refill}, {"a", 3, dup}, {"a", 5, dup}, {"a", 10, order}, {"b", 1, order}}},
		{"seq 0 is always in order", nil, []ev{{"a", 0, order}, {"a", 0, order}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := dedup.New(tc.committed)
			for i, e := range tc.events {
				if got := s.Classify(e.producer, e.seq); got != e.want {
					t.Fatalf("event %d %+v: got %v", i, e, got)
				}
			}
		})
	}
}

// TestReorderedDeliveryExact: a partition's seqs 1..n delivered in an order
// where some runs come late (after later seqs, as events republished after a
// broker failover do) and some come twice; each seq is admitted exactly once,
// also across a restart from the committed marks at random points.
func TestReorderedDeliveryExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 20000
	var order []uint64
	for lo := uint64(1); lo <= n; {
		hi := min(lo+uint64(rng.IntN(300)), n)
		run := make([]uint64, 0, hi-lo+1)
		for s := lo; s <= hi; s++ {
			run = append(run, s)
		}
		switch rng.IntN(4) {
		case 0: // late: land a few runs further on
			at := max(len(order)-rng.IntN(2000), 0)
			order = slices.Insert(order, at, run...)
			order = append(order, run[:len(run)/2]...) // and partly again
		default:
			order = append(order, run...)
		}
		lo = hi + 1
	}
	// order now has some runs before earlier ones: move them after.
	slices.Reverse(order[len(order)/3 : len(order)/2])
	admitted := make([]int, n+1)
	s := dedup.New(nil)
	committed := map[string]dedup.Mark{}
	for i, seq := range order {
		if s.Admit("r", seq) {
			admitted[seq]++
		}
		if rng.IntN(500) == 0 { // commit, and restart from what was committed
			maps.Copy(committed, s.Changed())
			s.Committed()
			enc := committed["r"].String()
			m, err := dedup.ParseMark(enc)
			if err != nil {
				t.Fatalf("after event %d: %v", i, err)
			}
			s = dedup.New(map[string]dedup.Mark{"r": m})
		}
	}
	for seq := 1; seq <= n; seq++ {
		if admitted[seq] != 1 {
			t.Fatalf("seq %d admitted %d times", seq, admitted[seq])
		}
	}
	if s.Evicted() != 0 {
		t.Fatalf("%d seqs evicted within the window", s.Evicted())
	}
}

func TestBounds(t *testing.T) {
	s := dedup.New(nil)
	s.Admit("a", 10)               // gap 1-9
	s.Admit("a", dedup.Window+100) // gap 11..Window+99; 1-9 fall out of the window
	if s.Admit("a", 5) {
		t.Fatal("a seq older than the window was admitted")
	}
	if !s.Admit("a", 200) {
		t.Fatal("a seq within the window was refused")
	}
	if s.Evicted() != 9+(100-11) {
		t.Fatalf("evicted %d", s.Evicted())
	}
	g := dedup.New(nil)
	for i := uint64(1); i <= dedup.MaxGaps+5; i++ {
		g.Admit("b", 2*i) // every odd seq is a gap
	}
	if n := len(g.Changed()["b"].Gaps); n != dedup.MaxGaps {
		t.Fatalf("%d gaps kept, want %d", n, dedup.MaxGaps)
	}
	if g.Admit("b", 1) || !g.Admit("b", 2*dedup.MaxGaps+9) {
		t.Fatal("the oldest gaps should go first")
	}
}

func TestParseMark(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want dedup.Mark
		err  bool
	}{
		{in: "7", want: dedup.Mark{High: 7}},
		{in: "20 2-4,6-8", want: dedup.Mark{High: 20, Gaps: []dedup.Range{{Lo: 2, Hi: 4}, {Lo: 6, Hi: 8}}}},
		{in: "", err: true},
		{in: "x", err: true},
		{in: "20 4-2", err: true},
		{in: "20 2-4,4-8", err: true}, // overlapping
		{in: "20 2-4,5-8", err: true}, // adjacent: should be one range
		{in: "20 2-20", err: true},    // not below the highest
		{in: "20 0-3", err: true},     // seq 0 is not a seq
		{in: "20 6-8,2-4", err: true}, // unsorted
		{in: "20 2-4,", err: true},
	} {
		got, err := dedup.ParseMark(tc.in)
		if tc.err {
			if !errors.Is(err, dedup.ErrMark) {
				t.Errorf("%q: error %v, want ErrMark", tc.in, err)
			}
			continue
		}
		if err != nil || got.High != tc.want.High || !slices.Equal(got.Gaps, tc.want.Gaps) || got.String() != tc.in {
			t.Errorf("%q: %+v %v, want %+v", tc.in, got, err, tc.want)
		}
	}
}

// TestChangedAcrossCommits: Changed lists exactly the producers with an
// admitted seq since the last Committed, however their events interleave
// (Seqs remembers the last producer: a commit must not hide it).
func TestChangedAcrossCommits(t *testing.T) {
	s := dedup.New(map[string]dedup.Mark{"c": {High: 3}})
	type ev struct {
		p   string
		seq uint64
	}
	steps := []struct {
		events []ev
		want   []string
	}{
		{[]ev{{"a", 1}, {"a", 2}, {"b", 1}, {"a", 3}}, []string{"a", "b"}},
		// The same producer as the last one before the commit.
		{[]ev{{"a", 4}}, []string{"a"}},
		// Only duplicates (a retry of a committed seq): nothing changed.
		{[]ev{{"a", 4}, {"c", 2}}, nil},
		{[]ev{{"c", 5}, {"c", 4}, {"b", 1}, {"c", 6}}, []string{"c"}},
	}
	for i, st := range steps {
		for _, e := range st.events {
			s.Classify(e.p, e.seq)
		}
		got := slices.Sorted(maps.Keys(s.Changed()))
		if !slices.Equal(got, st.want) {
			t.Fatalf("step %d: changed %v, want %v", i, got, st.want)
		}
		s.Committed()
	}
}
