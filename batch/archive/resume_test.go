package archive

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestCheckResume: a partition resumed at its committed offset alerts
// (error log, skipped-offsets metric) exactly when the stream's first
// delivery lies past the next offset to archive.
func TestCheckResume(t *testing.T) {
	for _, tc := range []struct {
		name             string
		committed, first int64
		skipped          float64
	}{
		{"fresh stream from offset 0", -1, 0, 0},
		{"chunk starts before the committed offset", 41, 30, 0},
		{"next offset first", 41, 42, 0},
		{"retention dropped 58 messages", 41, 100, 58},
		{"retention dropped the start of a fresh archive", -1, 7, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			m := NewMetrics(prometheus.NewRegistry())
			cfg := &Config{Log: slog.New(slog.NewTextHandler(&logs, nil)), Metrics: m}
			st := &partition{cfg: cfg, p: 3, label: "3", committed: Progress{Offset: tc.committed}}
			st.checkResume(tc.first)
			if got := testutil.ToFloat64(m.skipped.WithLabelValues("3")); got != tc.skipped {
				t.Fatalf("skipped offsets %v, want %v", got, tc.skipped)
			}
			if logged := strings.Contains(logs.String(), "level=ERROR"); logged != (tc.skipped > 0) {
				t.Fatalf("error logged: %v, want %v: %s", logged, tc.skipped > 0, logs.String())
			}
		})
	}
}
