package main

import (
	"testing"
)

func TestParseGraphBench(t *testing.T) {
	out := []byte("progress...\nshape=independent tasks=10000 submit=53ms total=4.25s tasks_per_s=2353\n")
	x, err := parseGraphBench(out)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"tasks": 10000, "tasks_per_s": 2353, "seconds": 4.25, "submit_seconds": 0.053}
	for k, v := range want {
		if x[k] != v {
			t.Errorf("%s = %v, want %v", k, x[k], v)
		}
	}
	if _, err := parseGraphBench([]byte("graph abc failed\n")); err == nil {
		t.Error("a line without tasks_per_s parsed")
	}
}

func TestParseRedisBenchmark(t *testing.T) {
	out := []byte(`"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"GET","19920.32","1.926","0.088","0.983","6.183","9.687","31.967"
`)
	x, err := parseRedisBenchmark(out)
	if err != nil {
		t.Fatal(err)
	}
	if x["rps"] != 19920.32 || x["p99_latency_ms"] != 9.687 {
		t.Errorf("got %v", x)
	}
	if _, err := parseRedisBenchmark([]byte("Invalid option\n")); err == nil {
		t.Error("output without a GET line parsed")
	}
}

func TestMetricSum(t *testing.T) {
	text := `# HELP tributary_speed_partitions_owned Partitions this worker holds the lease of.
tributary_speed_partitions_owned 3
tributary_speed_partitions_owned_total 99
other{p="1"} 5
tributary_speed_partitions_owned{x="y"} 2
`
	tests := []struct {
		name  string
		want  float64
		found bool
	}{
		{"tributary_speed_partitions_owned", 5, true},
		{"other", 5, true},
		{"missing", 0, false},
	}
	for _, tt := range tests {
		got, ok := metricSum(text, tt.name)
		if got != tt.want || ok != tt.found {
			t.Errorf("metricSum(%s) = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.found)
		}
	}
}

func TestPerThousand(t *testing.T) {
	a := redisStats{cpu: 10, calls: map[string]float64{"hset": 100, "get": 5}, usec: map[string]float64{"hset": 1000, "get": 10}}
	b := redisStats{cpu: 12, calls: map[string]float64{"hset": 2100, "get": 5, "evalsha": 20}, usec: map[string]float64{"hset": 5000, "get": 10, "evalsha": 800}}
	x := perThousand(a, b, 4000) // 4 thousand events
	if x["commands"] != 505.0 || x["cpu_ms"] != 500.0 {
		t.Errorf("commands %v cpu_ms %v, want 505 and 500", x["commands"], x["cpu_ms"])
	}
	by := x["by_command"].(map[string]any)
	if _, ok := by["get"]; ok {
		t.Error("a command without calls in between is listed")
	}
	if h := by["hset"].(map[string]float64); h["calls"] != 500 || h["usec"] != 1000 {
		t.Errorf("hset %v, want 500 calls and 1000 µs", h)
	}
}
