package view_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/batch/batchkeys"
	"github.com/tributary-dev/tributary/batch/view"
	"github.com/tributary-dev/tributary/internal/redisconn"
	"github.com/tributary-dev/tributary/internal/testenv"
)

// TestSwitchLostInFailover: a publication the primary acknowledged but did
// not replicate is lost by the failover as one piece. The promoted replica
// serves the previous version whole (its manifest, its nodes without a TTL:
// the retirement the lost switch applied is lost with it), the new
// version's nodes are not referenced, and publishing the new version again
// (what the next recompute does) succeeds. So a lost switch sends the batch
// view back in time but never leaves it half-switched; no WAIT is needed for
// exactness (docs/operations.md).
func TestSwitchLostInFailover(t *testing.T) {
	s := testenv.StartSentinelSet(t, 17885)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	rdb, _, err := redisconn.Open(ctx, s.URL(), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	const prefix = "failover"
	k := batchkeys.New(prefix)
	published := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	v1 := view.Manifest{Version: 1, Boundary: 978307200, PublishedAt: published, Segments: 3, Events: 300,
		Nodes: []string{k.Node("a"), k.Node("b")}}
	v2 := view.Manifest{Version: 2, Boundary: 978310800, PublishedAt: published.Add(time.Hour), Segments: 4, Events: 400,
		Nodes: []string{k.Node("b"), k.Node("c")}}
	const grace = time.Hour

	// Version 1, on both nodes.
	writeNodes(ctx, t, rdb, k.Node("a"), k.Node("b"))
	if _, err := view.Switch(ctx, rdb, prefix, v1, grace); err != nil {
		t.Fatal(err)
	}
	if n, err := rdb.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT: %d replicas, %v", n, err)
	}

	// Version 2, acknowledged by the primary only.
	s.Lag(ctx)
	writeNodes(ctx, t, rdb, k.Node("c"))
	sw, err := view.Switch(ctx, rdb, prefix, v2, grace)
	if err != nil || sw.PrevVersion != 1 {
		t.Fatalf("switch to version 2 on the primary: %+v %v", sw, err)
	}
	if ttl := rdb.PTTL(ctx, k.Node("a")).Val(); ttl <= 0 {
		t.Fatalf("on the old primary, version 1's node a was not retired: TTL %v", ttl)
	}

	took := s.KillPrimary(ctx)
	t.Logf("replica promoted %v after the primary's death", took.Round(time.Millisecond))
	var cur view.Manifest
	for {
		cur, err = view.Current(ctx, rdb, prefix)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no read through Sentinel after the failover: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !sameManifest(cur, v1) {
		t.Fatalf("after the failover the current manifest is %+v, want version 1 whole: %+v", cur, v1)
	}
	for _, n := range v1.Nodes {
		if ttl := rdb.PTTL(ctx, n).Val(); ttl != -1 {
			t.Fatalf("node %s of the current version 1 has TTL %v after the failover, want none", n, ttl)
		}
	}
	if n := rdb.Exists(ctx, k.Manifest(2)).Val(); n != 0 {
		t.Fatalf("version 2's manifest survived the failover without its switch")
	}

	// The next recompute publishes version 2 again, from the nodes it writes again.
	writeNodes(ctx, t, rdb, k.Node("c"))
	if sw, err := view.Switch(ctx, rdb, prefix, v2, grace); err != nil || sw.PrevVersion != 1 {
		t.Fatalf("publishing version 2 again after the failover: %+v %v", sw, err)
	}
	if cur, err := view.Current(ctx, rdb, prefix); err != nil || !sameManifest(cur, v2) {
		t.Fatalf("current %+v (%v), want version 2", cur, err)
	}
	if _, err := view.Switch(ctx, rdb, prefix, v2, grace); !errors.Is(err, view.ErrStale) {
		t.Fatalf("a third switch to version 2: %v, want ErrStale", err)
	}
}

// writeNodes writes node keys with a TTL, as a merge task does before the switch.
func writeNodes(ctx context.Context, t *testing.T, rdb redis.UniversalClient, keys ...string) {
	t.Helper()
	for _, n := range keys {
		if err := rdb.Set(ctx, n, "arrow bytes", time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
}
