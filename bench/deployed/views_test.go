package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCheckViews(t *testing.T) {
	for _, tc := range []struct {
		name, out  string
		reconciled int64
		err        string
	}{
		{"per-airport reference", `{"groups": 229}`, 10, ""},
		{"same buckets", `{"views": {"a": {"events": 100, "buckets_before": 6}, "r": {"events": 100, "buckets_before": 4}}}`, 10, ""},
		{"no reconciliation", `{"views": {"a": {"events": 100}}}`, 0, ""},
		{"other buckets", `{"views": {"a": {"events": 100, "buckets_before": 6}, "r": {"events": 100, "buckets_before": 5}}}`, 10,
			"11 buckets before the reconciliation's end, the reconciliation compared 10"},
		{"flights missing", `{"views": {"a": {"events": 99, "buckets_before": 6}}}`, 6, "view a counts 99 flights, want 100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var x map[string]any
			if err := json.Unmarshal([]byte(tc.out), &x); err != nil {
				t.Fatal(err)
			}
			err := checkViews(x, tc.reconciled, 100)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("error %v, want none", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want %q", err, tc.err)
			}
		})
	}
}
