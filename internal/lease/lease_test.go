package lease_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/lease"
	"github.com/tributary-dev/tributary/internal/testenv"
)

// TestFencedLease: the speed layer's partition lease. Tokens only grow, a
// held lease refuses others, renewal and release need the exact value.
func TestFencedLease(t *testing.T) {
	ctx := context.Background()
	rdb := testenv.Redis(t)
	p := testenv.Prefix(t)
	// A lease and its fence are one script's keys: one hash tag (Redis Cluster).
	key, fence := "{"+p+"}:lease", "{"+p+"}:fence"
	t.Cleanup(func() { rdb.Del(ctx, key, fence) })

	a, err := lease.Acquire(ctx, rdb, key, fence, "a", time.Minute)
	if err != nil || a.Token != 1 || a.Value() != "a|1" {
		t.Fatalf("first acquire: %+v %v", a, err)
	}
	if _, err := lease.Acquire(ctx, rdb, key, fence, "b", time.Minute); !errors.Is(err, lease.ErrHeld) {
		t.Fatalf("b acquired a's lease: %v", err)
	}
	a2, err := lease.Acquire(ctx, rdb, key, fence, "a", time.Minute)
	if err != nil || a2.Token != 2 {
		t.Fatalf("re-acquire by the same owner: %+v %v, want token 2", a2, err)
	}
	ok, err := lease.Renew(ctx, rdb, []lease.Grant{a, a2}, time.Minute)
	if err != nil || ok[0] || !ok[1] {
		t.Fatalf("renew [old, new]: %v %v, want [false true]", ok, err)
	}
	if err := lease.Release(ctx, rdb, a); err != nil {
		t.Fatal(err)
	}
	if v, _ := lease.Holder(ctx, rdb, key); v != "a|2" {
		t.Fatalf("a stale grant released the lease: holder %q", v)
	}
	if err := lease.Release(ctx, rdb, a2); err != nil {
		t.Fatal(err)
	}
	b, err := lease.Acquire(ctx, rdb, key, fence, "b", time.Minute)
	if err != nil || b.Token != 3 {
		t.Fatalf("b after release: %+v %v, want token 3", b, err)
	}
	if _, err := lease.Acquire(ctx, rdb, key, fence, "x|y", time.Minute); err == nil {
		t.Fatal("an owner with '|' was accepted for a fenced lease")
	}
}

// TestLeaderLease: the scheduler's leader election over the same scripts.
func TestLeaderLease(t *testing.T) {
	ctx := context.Background()
	rdb := testenv.Redis(t)
	key := testenv.Prefix(t) + ":leader"
	t.Cleanup(func() { rdb.Del(ctx, key) })
	a := lease.New(rdb, key, "a", 200*time.Millisecond)
	b := lease.New(rdb, key, "b", time.Minute)
	for _, step := range []struct {
		who  *lease.Lease
		want bool
	}{{a, true}, {b, false}, {a, true}} {
		if ok, err := step.who.TryAcquire(ctx); err != nil || ok != step.want {
			t.Fatalf("%s TryAcquire: %v %v, want %v", step.who.ID(), ok, err, step.want)
		}
	}
	if h, _ := b.Holder(ctx); h != "a" {
		t.Fatalf("holder %q, want a", h)
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if h, _ := a.Holder(ctx); h != "a" {
		t.Fatalf("b released a's lease: holder %q", h)
	}
	deadline := time.Now().Add(5 * time.Second)
	for { // a stops renewing: b takes over once the TTL passed
		ok, err := b.TryAcquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("b never took over the expired lease")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if h, _ := a.Holder(ctx); h != "" {
		t.Fatalf("holder %q after release, want none", h)
	}
}
