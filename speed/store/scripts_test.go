package store_test

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/flight"
	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/speed/keyspace"
	"github.com/tributary-dev/tributary/speed/store"
)

// TestDigestsAndExpiryOverManyHours: the digests read by script, and the
// TTLs it gives, over more hours than one script call takes and several
// partitions, against hashes written here directly: some with a digest,
// some without (written before digests existed), most hours with none.
func TestDigestsAndExpiryOverManyHours(t *testing.T) {
	rdb := testenv.Redis(t)
	ctx := context.Background()
	prefix := testenv.Prefix(t)
	keys := keyspace.New(prefix)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, keys.Base()+"*") })
	const partitions, hours = 3, 2500 // many script calls of 128 hashes
	const h0 = int64(978307200)
	const view = "route_hour"
	rng := rand.New(rand.NewPCG(3, 5))
	want := make([]flight.HourDigest, hours)
	for i := range want {
		want[i] = flight.HourDigest{Hour: h0 + int64(i)*3600, Complete: true}
	}
	var written []string
	for i := range want {
		for p := range partitions {
			if rng.IntN(4) != 0 {
				continue
			}
			k := keys.Hour(p, view, want[i].Hour)
			n := 1 + rng.IntN(5)
			for f := range n {
				if err := rdb.HSet(ctx, k, "G"+strconv.Itoa(f), "x").Err(); err != nil {
					t.Fatal(err)
				}
			}
			d := &want[i]
			d.Present = true
			d.Buckets += int64(n)
			if rng.IntN(10) == 0 {
				d.Complete = false // no digest field
			} else {
				sum := rng.Uint64()
				if err := rdb.HSet(ctx, k, keyspace.FieldDigest, strconv.FormatUint(sum, 16)).Err(); err != nil {
					t.Fatal(err)
				}
				d.Sum += sum
			}
			written = append(written, k)
		}
	}
	for _, tc := range []struct{ lo, hi int }{{0, hours}, {1000, 1030}, {2499, 2500}, {0, 128}, {1, 257}, {127, 2049}} {
		got, err := store.NewReader(rdb, prefix, partitions).HourDigests(ctx, view, h0+int64(tc.lo)*3600, h0+int64(tc.hi)*3600)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != tc.hi-tc.lo {
			t.Fatalf("[%d, %d): %d digests", tc.lo, tc.hi, len(got))
		}
		for i, d := range got {
			if d != want[tc.lo+i] {
				t.Fatalf("[%d, %d): hour %d: %+v, want %+v", tc.lo, tc.hi, tc.lo+i, d, want[tc.lo+i])
			}
		}
	}
	// Expire the hours [0, 2000): every partition's hash of them.
	var hs []int64
	for i := range 2000 {
		hs = append(hs, want[i].Hour)
	}
	e := store.NewExpirer(rdb, prefix)
	for p := range partitions {
		if n, err := e.ExpireHours(ctx, p, view, hs, time.Hour); err != nil || n != 2000 {
			t.Fatalf("ExpireHours of partition %d: %d, %v; want 2000 keys", p, n, err)
		}
	}
	expiring := 0
	for _, k := range written {
		ttl, err := rdb.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		h, _ := strconv.ParseInt(k[len(k)-9:], 10, 64)
		if wantTTL := h < h0+2000*3600; (ttl > 0 && ttl <= time.Hour) != wantTTL || !wantTTL && ttl != -1 {
			t.Fatalf("%s: TTL %v, want expiring %v", k, ttl, wantTTL)
		}
		if ttl > 0 {
			expiring++
		}
	}
	if expiring == 0 || expiring == len(written) {
		t.Fatalf("%d of %d keys expiring: the check checks nothing", expiring, len(written))
	}
}
