package agg

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/ingest/dedup"
)

func ev(seq uint64, minute int, origin, dest string, delay int32) flight.Event {
	t := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(minute) * time.Minute)
	return flight.Event{ID: "x", Time: t.UnixMicro(), Origin: origin, Destination: dest, Delay: delay, Distance: 100, Producer: "r", Seq: seq}
}

func TestDuplicatesLateAndBuckets(t *testing.T) {
	p := New(flight.Views(), int64(time.Hour/time.Microsecond), Progress{Offset: 9, Seqs: map[string]dedup.Mark{"r": {High: 2}}})
	p.Message(10, []flight.Event{
		ev(1, 0, "ATL", "LAX", 5),    // duplicate of a committed seq
		ev(3, 200, "ATL", "LAX", 20), // applied, hour 3
		ev(4, 201, "ATL", "ORD", -3), // applied
		ev(4, 201, "ATL", "ORD", -3), // duplicate within the flush
		ev(5, 100, "ATL", "ORD", 1),  // late: watermark is minute 141
		ev(0, 202, "ATL", "ORD", 0),  // seq 0: never a duplicate
		ev(0, 202, "ATL", "ORD", 0),
	})
	pd := p.Pending()
	if pd.Counters != (Counters{Applied: 4, Late: 1, Duplicates: 2}) {
		t.Fatalf("counters %+v", pd.Counters)
	}
	if pd.Seqs["r"].String() != "5" || pd.PrevOffset != 9 || pd.Offset != 10 {
		t.Fatalf("pending %+v", pd)
	}
	h := flight.Hour(ev(0, 200, "", "", 0).Time)
	a := pd.Buckets[BucketID{0, "ATL", h}]
	if a == nil || a.Stats != (flight.Stats{Count: 4, Sum: 17, Delayed: 1, Min: -3, Max: 20}) || len(a.Dests) != 2 || a.Sketch.Count() != 4 {
		t.Fatalf("airport bucket %+v", a)
	}
	if r := pd.Buckets[BucketID{1, "ATL-ORD", h}]; r == nil || r.Stats.Count != 3 || r.Dests != nil {
		t.Fatalf("route bucket %+v", r)
	}
	p.Malformed(11, "bad", []byte("0123456789"), 4)
	p.Committed()
	if p.Dirty() || p.PendingBuckets() != 0 || p.CommittedOffset() != 11 {
		t.Fatal("Committed must reset the deltas")
	}
}

// TestRepublishedAfterLaterSeqs: events that a publisher sent again after a
// broker failover can be stored after later events of the partition that got
// through (chaos scenario rabbit-first-kill). They were never applied, so
// they count once; what really is a retry still does not.
func TestRepublishedAfterLaterSeqs(t *testing.T) {
	p := New(flight.Views(), int64(time.Hour/time.Microsecond), Progress{Offset: 9, Seqs: map[string]dedup.Mark{"r": {High: 2}}})
	p.Message(10, []flight.Event{ev(3, 200, "ATL", "LAX", 1), ev(6, 200, "ATL", "LAX", 1), ev(7, 200, "ATL", "LAX", 1)})
	p.Message(11, []flight.Event{ev(4, 200, "ATL", "LAX", 1), ev(5, 200, "ATL", "LAX", 1), ev(6, 200, "ATL", "LAX", 1)})
	p.Message(12, []flight.Event{ev(4, 200, "ATL", "LAX", 1), ev(2, 200, "ATL", "LAX", 1)})
	pd := p.Pending()
	if pd.Counters != (Counters{Applied: 5, Duplicates: 3}) {
		t.Fatalf("counters %+v, want 5 applied (seqs 3 to 7) and 3 duplicates", pd.Counters)
	}
	if got := pd.Seqs["r"].String(); got != "7" {
		t.Fatalf("mark %q, want 7 with no gap", got)
	}
	if b := pd.Buckets[BucketID{0, "ATL", flight.Hour(ev(0, 200, "", "", 0).Time)}]; b == nil || b.Stats.Count != 5 {
		t.Fatalf("bucket %+v, want 5 events", b)
	}
}

// TestRefillBehindWatermarkIsApplied: a message lost in a stream leader's
// failover comes back, republished, after later messages of the partition
// went through (chaos scenario rabbit-leader-kill). At a fast replay it is
// hours of event time behind the watermark; it fills a gap of its
// producer's seqs, so it is applied (and counted Refilled), not late. An
// event that comes in its producer's order that far behind still is late.
func TestRefillBehindWatermarkIsApplied(t *testing.T) {
	p := New(flight.Views(), int64(time.Hour/time.Microsecond), Progress{Offset: 9, Seqs: map[string]dedup.Mark{"r": {High: 2}}})
	p.Message(10, []flight.Event{ev(3, 60, "ATL", "LAX", 1)})
	// Seqs 4 and 5 (minutes 61, 62) were lost; seqs 6 to 8, 10 hours later, got through.
	p.Message(11, []flight.Event{ev(6, 660, "ATL", "LAX", 1), ev(7, 661, "ATL", "LAX", 1), ev(8, 662, "ATL", "ORD", 1)})
	// The republication: 5 and 4 fill the gap; 6 is a retry; 9 comes in
	// order but 10 hours behind the watermark: late.
	p.Message(12, []flight.Event{ev(4, 61, "ATL", "LAX", 2), ev(5, 62, "ATL", "LAX", 3), ev(6, 660, "ATL", "LAX", 1), ev(9, 63, "ATL", "LAX", 9)})
	pd := p.Pending()
	if want := (Counters{Applied: 6, Late: 1, Duplicates: 1, Refilled: 2}); pd.Counters != want {
		t.Fatalf("counters %+v, want %+v", pd.Counters, want)
	}
	early := pd.Buckets[BucketID{0, "ATL", flight.Hour(ev(0, 60, "", "", 0).Time)}]
	if early == nil || early.Stats != (flight.Stats{Count: 3, Sum: 6, Min: 1, Max: 3}) {
		t.Fatalf("bucket of the refilled hour %+v, want seqs 3 to 5", early)
	}
	if pd.MinTime != ev(0, 60, "", "", 0).Time || pd.MaxTime != ev(0, 662, "", "", 0).Time {
		t.Fatalf("min/max time %d/%d", pd.MinTime, pd.MaxTime)
	}
	if got := pd.Seqs["r"].String(); got != "9" {
		t.Fatalf("mark %q, want 9 with no gap", got)
	}
	if pd.Refused.Counts[Refusal{KindLate, "r"}] != 1 || pd.Refused.Samples[KindLate].Event.Seq != 9 {
		t.Fatalf("refused %+v, want seq 9 late", pd.Refused)
	}
}

// TestFutureMeasuredFromProducerClock: a partition silent for longer than
// the future bound (one airport's night) takes its next event when the
// message carries its producer's clock, and quarantines it when it does not
// (the stray the bound is for); an event far ahead of the clock too is
// quarantined either way.
func TestFutureMeasuredFromProducerClock(t *testing.T) {
	const bound = 6 * time.Hour
	for _, tc := range []struct {
		name        string
		clockMinute int // 0: no clock header
		eventMinute int
		wantApplied int64
		wantFuture  int64
	}{
		{"after a 7h silence, with the producer's clock", 7*60 + 5, 7 * 60, 2, 0},
		{"after a 7h silence, no clock", 0, 7 * 60, 1, 1},
		{"far ahead of the clock too", 7*60 + 5, 20 * 60, 1, 1},
		{"within the bound, no clock", 0, 5 * 60, 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New(flight.Views(), int64(time.Hour/time.Microsecond), Progress{}).WithChecks(0, 0, bound, 1024)
			p.Message(1, []flight.Event{ev(1, 0, "ATL", "LAX", 5)})
			var clock int64
			if tc.clockMinute > 0 {
				clock = ev(0, tc.clockMinute, "", "", 0).Time
			}
			p.MessageWithClock(2, clock, []flight.Event{ev(2, tc.eventMinute, "ATL", "LAX", 7)})
			c := p.Pending().Counters
			if c.Applied != tc.wantApplied || c.Future != tc.wantFuture {
				t.Fatalf("applied %d future %d, want %d and %d", c.Applied, c.Future, tc.wantApplied, tc.wantFuture)
			}
		})
	}
}

// TestDeltasReusedAfterCommit: the deltas a commit empties and reuses start
// the next flush exactly as new ones (no stats, bins or destinations of the
// previous flush), and the pending flush knows the committed highest event
// time.
func TestDeltasReusedAfterCommit(t *testing.T) {
	batches := [][]flight.Event{
		{ev(1, 0, "ATL", "LAX", 5), ev(2, 1, "ATL", "ORD", 40), ev(3, 2, "BOS", "ATL", -7), ev(4, 70, "ATL", "JFK", 0)},
		{ev(5, 71, "ATL", "LAX", 12), ev(6, 72, "BOS", "SFO", 3)},
		{ev(7, 73, "ATL", "ORD", -1), ev(8, 130, "SEA", "ATL", 200), ev(9, 74, "ATL", "ORD", 8), ev(10, 131, "ATL", "ORD", 2), ev(11, 75, "ATL", "ORD", 4)},
	}
	p := New(flight.Views(), int64(time.Hour/time.Microsecond), Progress{Offset: -1, MaxTime: 42})
	wantPrevMax := int64(42)
	for i, b := range batches {
		p.Message(int64(i), b)
		got := p.Pending()
		fresh := New(flight.Views(), int64(time.Hour/time.Microsecond), Progress{Offset: -1})
		fresh.Message(int64(i), b)
		want := fresh.Pending()
		if got.PrevMaxTime != wantPrevMax {
			t.Fatalf("flush %d: PrevMaxTime %d, want %d", i, got.PrevMaxTime, wantPrevMax)
		}
		if len(got.Buckets) != len(want.Buckets) {
			t.Fatalf("flush %d: %d buckets, want %d", i, len(got.Buckets), len(want.Buckets))
		}
		for id, w := range want.Buckets {
			g := got.Buckets[id]
			if g == nil || g.Stats != w.Stats || !slices.Equal(sketchBins(&g.Sketch), sketchBins(&w.Sketch)) || g.Sketch.Count() != w.Sketch.Count() ||
				!maps.Equal(g.Dests, w.Dests) || (g.Dests == nil) != (w.Dests == nil) {
				t.Fatalf("flush %d bucket %v: %+v, want %+v", i, id, g, w)
			}
		}
		wantPrevMax = got.MaxTime
		p.Committed()
	}
}

func sketchBins(s *flight.DelaySketch) []flight.Bin {
	var out []flight.Bin
	s.Each(func(b int32, n int64) { out = append(out, flight.Bin{Bin: b, N: n}) })
	return out
}
