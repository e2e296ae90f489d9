package main

import (
	"testing"
	"time"
)

// TestLatencies checks that a message counts as visible from the first read
// of its partition's committed offset at or past its own.
func TestLatencies(t *testing.T) {
	t0 := time.UnixMicro(1_000_000_000)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	pl := &offsetPoll{seen: [][]offsetAt{
		{{at(100), 4}, {at(600), 9}},
		{{at(50), 0}},
	}}
	msgs := []stamped{
		{part: 0, offset: 0, at: t0.UnixMicro()},                   // committed with 4
		{part: 0, offset: 4, at: at(10).UnixMicro()},               // exactly 4
		{part: 0, offset: 5, at: at(20).UnixMicro()},               // after 4: with 9
		{part: 1, offset: 0, at: t0.Add(-time.Second).UnixMicro()}, // published long before
	}
	got, err := pl.latencies(msgs)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{100, 90, 580, 1050}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("message %d: %v ms, want %v", i, got[i], want[i])
		}
	}
	if _, err := pl.latencies([]stamped{{part: 0, offset: 10}}); err == nil {
		t.Error("an offset never committed gave no error")
	}
}

func TestLatencySummary(t *testing.T) {
	ms := make([]float64, 200)
	for i := range ms {
		ms[i] = float64(200 - i) // 1..200, out of order
	}
	ms[0] = 700 // one over the bound
	got := latencySummary(ms, 500*time.Millisecond)
	for k, want := range map[string]any{"messages": 200, "p50_ms": 100.0, "p99_ms": 198.0, "max_ms": 700.0,
		"bound_ms": int64(600), "within_bound": 0.995} {
		if got[k] != want {
			t.Errorf("%s = %v (%T), want %v (%T)", k, got[k], got[k], want, want)
		}
	}
}
