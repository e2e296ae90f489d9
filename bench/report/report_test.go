package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestVerdict(t *testing.T) {
	tests := []struct {
		a    aim
		x    float64
		want string
	}{
		{atLeast(0.8, "≥ 0.8×"), 0.8, "met"},
		{atLeast(0.8, "≥ 0.8×"), 0.4, "**missed** (2× short)"},
		{atMost(1.5, "≤ 1.5 s"), 15, "**missed** (10× over)"},
		{atMost(1.5, "≤ 1.5 s"), 1.2, "met"},
		{atMost(1.5, "≤ 1.5 s"), 169.54, "**missed** (113× over)"},
		{atLeast(300000, "≥ 300,000/s"), 13113, "**missed** (23× short)"},
		{aim{}, 3, ""},
	}
	for _, tt := range tests {
		if got := tt.a.verdict(tt.x); got != tt.want {
			t.Errorf("%+v.verdict(%v) = %q, want %q", tt.a, tt.x, got, tt.want)
		}
	}
}

func TestThousands(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 3000000: "3,000,000", 12043.4: "12,043", -1234: "-1,234"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%v) = %q, want %q", in, got, want)
		}
	}
}

// TestRows checks the ratios and verdicts against figures computed by hand.
func TestRows(t *testing.T) {
	var r results
	err := json.Unmarshal([]byte(`{
	  "config": {"tasks": 10000, "leaves": 1000, "batch_workers": 2},
	  "scheduler": {
	    "tributary": {"independent": [{"tasks": 10000, "tasks_per_s": 2000}, {"tasks": 10000, "tasks_per_s": 3000}, {"tasks": 10000, "tasks_per_s": 2500}]},
	    "raw_asynq": {"independent": [{"tasks_per_s": 4000}]},
	    "dask_tuned": {"independent": [{"tasks_per_s": 1000}]}
	  },
	  "batch": {"published_seconds": 0.5, "returned_seconds": 10, "view_events": 3000000,
	    "pandas": {"compute_s": 2}, "dask_tuned": {"end_to_end_s": 4}},
	  "serve": {"all_data": {"requests_per_query": 51, "serve_rss_mb": 180.4, "serve_hwm_mb": 600,
	    "top_delay_p95": {"first_ms": 30.12, "p50_ms": 20, "p99_ms": 45.5, "max_ms": 45.5},
	    "route_atl_ord": {"first_ms": 1, "p50_ms": 0.5, "p99_ms": 75, "max_ms": 150}}},
	  "latency": {"rate": 5000, "p50_ms": 250.4, "p99_ms": 640, "max_ms": 700, "bound_ms": 600},
	  "rss_mb": {"speed-1": 300, "serve": 100, "loadgen-open": 50}
	}`), &r)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]row{}
	for _, rw := range rows(r) {
		got[rw.Measure+" | "+rw.Reference] = rw
	}
	want := []struct{ key, tributary, ratio, verdict string }{
		{"10,000 independent no-op tasks, tasks/s | raw asynq, 2 server processes: 4,000", "2,500", "0.62×", "**missed** (1.3× short)"},
		{"10,000 independent no-op tasks, tasks/s | Dask tuned (worker-saturation inf): 1,000", "2,500", "2.50×", "**missed** (1.2× short)"},
		{"full recompute of 3,000,000 archived flights: published after (s) | ", "0.50", "", "met"},
		{"`batch run --wait` returned after (s), reconciliation included | ", "10.00", "", "**missed** (6.7× over)"},
		{"vs pandas' compute alone (returned; published) | pandas compute: 2.00", "10.00", "0.20×; 4.00×", "**missed** (10× short)"},
		{"vs Dask dataframe tuned, end to end (returned; published) | Dask tuned: 4.00", "10.00", "0.40×; 8.00×", "**missed** (7.5× short)"},
		{"peak RSS of serve (MB) | ", "100", "", "met"},
		{"event to view at 5,000 events/s (tools/evalfeed), 2 speed workers: p50; p99; max (ms) | ", "250; 640; 700", "", "**missed** (1.1× over)"},
		{"top 10 airports by p95 delay over all data, uncached, 51 requests one at a time: first; p50; p99; max (ms) | ", "30.1; 20.0; 45.5; 45.5", "", "met"},
		{"one route (ATL-ORD) over all data, uncached, 51 requests one at a time: first; p50; p99; max (ms) | ", "1.0; 0.5; 75.0; 150.0", "", "**missed** (3× over)"},
		{"serve's RSS after the queries over all data: now; peak (MB) | ", "180; 600", "", "**missed** (1.2× over)"},
		{"peak RSS of speed-1 (MB) | ", "300", "", "**missed** (1.2× over)"},
	}
	for _, w := range want {
		rw, ok := got[w.key]
		if !ok {
			t.Errorf("no row %q in %v", w.key, got)
			continue
		}
		if rw.Tributary != w.tributary || rw.Ratio != w.ratio || rw.Verdict != w.verdict {
			t.Errorf("%s: got %q %q %q, want %q %q %q", w.key, rw.Tributary, rw.Ratio, rw.Verdict, w.tributary, w.ratio, w.verdict)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d rows, want %d: %v", len(got), len(want), got)
	}
	rss := rssTable(rssRows(r))
	for _, line := range []string{"| tributary | serve | 100 | ≤ 512 MB | met |", "| tributary | speed-1 | 300 | ≤ 256 MB | **missed** (1.2× over) |",
		"| reference / tool | loadgen-open | 50 |  |  |"} {
		if !strings.Contains(rss, line) {
			t.Errorf("RSS table lacks %q:\n%s", line, rss)
		}
	}
}

// TestBatchRowsWithViews checks that a run with the views references holds
// the aims to them, and keeps the per-airport references as rows without an
// aim.
func TestBatchRowsWithViews(t *testing.T) {
	var r results
	err := json.Unmarshal([]byte(`{"batch": {"published_seconds": 0.5, "returned_seconds": 1, "view_events": 3000000,
	    "pandas_views": {"compute_s": 4.5}, "dask_views_tuned": {"end_to_end_s": 2.5},
	    "pandas": {"compute_s": 0.8}, "dask_tuned": {"end_to_end_s": 1.6}}}`), &r)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]row{}
	for _, rw := range batchRows(r) {
		got[rw.Measure] = rw
	}
	for _, w := range []struct{ measure, ratio, aim, verdict string }{
		{"vs pandas computing the same two hourly views, its compute alone (returned; published)", "4.50×; 9.00×", "≥ 2× faster", "met"},
		{"vs Dask dataframe tuned computing the same views, end to end (returned; published)", "2.50×; 5.00×", "≥ 3× faster", "**missed** (1.2× short)"},
		{"vs pandas' compute alone (returned; published), per-airport statistics only (229 rows: lighter than the views)", "0.80×; 1.60×", "", ""},
		{"vs Dask dataframe tuned, end to end (returned; published), per-airport statistics only (229 rows: lighter than the views)", "1.60×; 3.20×", "", ""},
	} {
		rw, ok := got[w.measure]
		if !ok {
			t.Errorf("no row %q in %v", w.measure, got)
			continue
		}
		if rw.Ratio != w.ratio || rw.Aim != w.aim || rw.Verdict != w.verdict {
			t.Errorf("%s: got %q %q %q, want %q %q %q", w.measure, rw.Ratio, rw.Aim, rw.Verdict, w.ratio, w.aim, w.verdict)
		}
	}
	if len(got) != 6 {
		t.Errorf("%d rows, want 6: %v", len(got), got)
	}
}
