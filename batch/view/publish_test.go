package view_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/batch/batchkeys"
	"github.com/tributary-dev/tributary/batch/view"
	"github.com/tributary-dev/tributary/internal/testenv"
)

// TestSwitch runs a sequence of publications through switch.lua on the real
// Redis: each step either switches (and the manifest reads back exactly as
// written, the new nodes lose their TTL, the nodes only the retired version
// used get the grace period) or is refused with the sentinel error and
// changes nothing.
func TestSwitch(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix+":*") })
	ctx := t.Context()
	k := batchkeys.New(prefix)
	node := func(name string) string { return k.Node(name) }
	const grace = time.Minute
	published := time.Date(2026, 11, 30, 9, 0, 0, 123456789, time.UTC)

	steps := []struct {
		name    string
		version int64
		nodes   []string
		create  []string // node keys written (with a TTL, as a merge does) before the step
		wantErr error
		// wantPrev is the version retired by a successful switch.
		wantPrev int64
		// retired are nodes that must have the grace period after the step.
		retired []string
	}{
		{name: "first version", version: 1, nodes: []string{node("a"), node("b")}, create: []string{node("a"), node("b")}},
		{name: "same version again", version: 1, nodes: []string{node("a")}, wantErr: view.ErrStale},
		{name: "missing node", version: 2, nodes: []string{node("b"), node("c")}, wantErr: view.ErrMissingNode},
		{name: "second version", version: 2, nodes: []string{node("b"), node("c")}, create: []string{node("c")},
			wantPrev: 1, retired: []string{node("a")}},
		{name: "older version", version: 1, nodes: []string{node("b")}, wantErr: view.ErrStale},
	}
	var current view.Manifest
	for i, st := range steps {
		for _, n := range st.create {
			if err := rdb.Set(ctx, n, "arrow bytes", time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
		}
		m := view.Manifest{Version: st.version, Boundary: 978307200 + int64(i)*3600, PublishedAt: published.Add(time.Duration(i) * time.Second),
			Segments: int64(10 + i), Events: int64(1000 + i), Nodes: st.nodes}
		sw, err := view.Switch(ctx, rdb, prefix, m, grace)
		if st.wantErr != nil {
			if !errors.Is(err, st.wantErr) {
				t.Fatalf("%s: error %v, want %v", st.name, err, st.wantErr)
			}
		} else {
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if sw.PrevVersion != st.wantPrev || sw.PrevBoundary != current.Boundary {
				t.Fatalf("%s: retired %+v, want version %d boundary %d", st.name, sw, st.wantPrev, current.Boundary)
			}
			current = m
		}
		got, err := view.Current(ctx, rdb, prefix)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if !sameManifest(got, current) {
			t.Fatalf("%s: current manifest %+v, want %+v", st.name, got, current)
		}
		for _, n := range current.Nodes {
			if ttl := rdb.PTTL(ctx, n).Val(); ttl != -1 {
				t.Fatalf("%s: node %s of the current version has TTL %v, want none", st.name, n, ttl)
			}
		}
		for _, n := range st.retired {
			if ttl := rdb.PTTL(ctx, n).Val(); ttl <= 0 || ttl > grace {
				t.Fatalf("%s: retired node %s has TTL %v, want at most %v", st.name, n, ttl, grace)
			}
		}
	}
	if ttl := rdb.PTTL(ctx, k.Manifest(1)).Val(); ttl <= 0 || ttl > grace {
		t.Fatalf("retired manifest has TTL %v, want at most %v", ttl, grace)
	}
}

func sameManifest(a, b view.Manifest) bool {
	return a.Version == b.Version && a.Boundary == b.Boundary && a.PublishedAt.Equal(b.PublishedAt) &&
		a.Segments == b.Segments && a.Events == b.Events && slices.Equal(a.Nodes, b.Nodes)
}

// TestCurrentBeforeAnyVersion: nothing published is ErrNoView, not a zero
// manifest.
func TestCurrentBeforeAnyVersion(t *testing.T) {
	rdb := testenv.Redis(t)
	if _, err := view.Current(t.Context(), rdb, testenv.Prefix(t)); !errors.Is(err, view.ErrNoView) {
		t.Fatalf("error %v, want ErrNoView", err)
	}
}
