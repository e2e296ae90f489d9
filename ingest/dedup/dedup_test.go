package dedup_test

import (
	"maps"
	"testing"

	"github.com/tributary-dev/tributary/ingest/dedup"
)

func TestSeqs(t *testing.T) {
	type ev struct {
		producer string
		seq      uint64
		admit    bool
	}
	for _, tc := range []struct {
		name      string
		committed map[string]uint64
		events    []ev
		changed   map[string]uint64
	}{
		{"fresh", nil, []ev{{"a", 1, true}, {"a", 2, true}, {"a", 2, false}, {"b", 1, true}}, map[string]uint64{"a": 2, "b": 1}},
		{"committed seqs are retries", map[string]uint64{"a": 5}, []ev{{"a", 3, false}, {"a", 5, false}, {"a", 6, true}}, map[string]uint64{"a": 6}},
		{"gaps are fine, going back is not", nil, []ev{{"a", 10, true}, {"a", 4, false}, {"a", 11, true}}, map[string]uint64{"a": 11}},
		{"seq 0 is never deduplicated", map[string]uint64{"a": 5}, []ev{{"a", 0, true}, {"a", 0, true}, {"", 0, true}}, map[string]uint64{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := dedup.New(tc.committed)
			for i, e := range tc.events {
				if got := s.Admit(e.producer, e.seq); got != e.admit {
					t.Fatalf("event %d %+v: admitted %v", i, e, got)
				}
			}
			if got := s.Changed(); !maps.Equal(got, tc.changed) {
				t.Fatalf("changed %v, want %v", got, tc.changed)
			}
			s.Committed()
			if got := s.Changed(); len(got) != 0 {
				t.Fatalf("changed after commit: %v", got)
			}
			for _, e := range tc.events { // replayed after the commit: all retries
				if e.seq != 0 && s.Admit(e.producer, e.seq) {
					t.Fatalf("%+v admitted again after commit", e)
				}
			}
		})
	}
}
