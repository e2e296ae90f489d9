package store_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/speed/keyspace"
	"github.com/tributary-dev/tributary/speed/store"
)

// TestExpireCoveredRecordsProgressWithTheExpiry checks the coverage duty's
// write: the hours' hashes of every view get the grace and the progress is
// recorded by the same calls, only while the progress is what was read.
func TestExpireCoveredRecordsProgressWithTheExpiry(t *testing.T) {
	ctx := context.Background()
	rdb := testenv.Redis(t)
	const h0, grace, p = int64(978307200), time.Hour, 3
	views := []string{"airport_hour", "route_hour"}
	h := func(i int64) int64 { return h0 + i*3600 }
	itoa := func(i int64) string { return strconv.FormatInt(i, 10) }
	for _, tc := range []struct {
		name string
		// stored: the partition's expired and mintime ("" absent);
		// read: what the caller read.
		stored, read store.Progress
		from, to     int64 // hour indexes
		err          error
		keys         int64
		expired      int64 // hour index recorded; -1: unchanged
		ttl          func(i int64) bool
	}{
		{name: "from the first event", stored: store.Progress{MinTime: itoa(h(2) * 1e6)}, read: store.Progress{MinTime: itoa(h(2) * 1e6)},
			from: 2, to: 5, keys: 6, expired: 5, ttl: func(i int64) bool { return i >= 2 && i < 5 }},
		{name: "from the progress, over several calls", stored: store.Progress{Expired: itoa(h(1))}, read: store.Progress{Expired: itoa(h(1))},
			from: 1, to: 150, keys: 298, expired: 150, ttl: func(i int64) bool { return i >= 1 && i < 150 }},
		{name: "nothing to expire: the progress alone", stored: store.Progress{}, read: store.Progress{},
			from: 7, to: 7, keys: 0, expired: 7, ttl: func(int64) bool { return false }},
		{name: "another owner moved the progress", stored: store.Progress{Expired: itoa(h(4))}, read: store.Progress{Expired: itoa(h(1))},
			from: 1, to: 5, err: store.ErrProgressMoved, expired: -1, ttl: func(int64) bool { return false }},
		{name: "an older event lowered the first event's time", stored: store.Progress{MinTime: itoa(h(0) * 1e6)}, read: store.Progress{MinTime: itoa(h(2) * 1e6)},
			from: 2, to: 5, err: store.ErrProgressMoved, expired: -1, ttl: func(int64) bool { return false }},
		{name: "a first event since the read", stored: store.Progress{MinTime: itoa(h(3) * 1e6)}, read: store.Progress{},
			from: 5, to: 5, err: store.ErrProgressMoved, expired: -1, ttl: func(int64) bool { return false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := testenv.Prefix(t)
			keys := keyspace.New(prefix)
			t.Cleanup(func() { testenv.DeleteKeys(rdb, keys.Base()+"*") })
			for _, v := range views {
				for i := range int64(160) {
					if err := rdb.HSet(ctx, keys.Hour(p, v, h(i)), "ATL", "x").Err(); err != nil {
						t.Fatal(err)
					}
				}
			}
			part := keys.Partition(p)
			if err := rdb.HSet(ctx, part, "applied", 1).Err(); err != nil {
				t.Fatal(err)
			}
			for field, v := range map[string]string{keyspace.FieldExpired: tc.stored.Expired, keyspace.FieldMinTime: tc.stored.MinTime} {
				if v != "" {
					if err := rdb.HSet(ctx, part, field, v).Err(); err != nil {
						t.Fatal(err)
					}
				}
			}
			n, err := store.NewExpirer(rdb, prefix).ExpireCovered(ctx, p, h(tc.from), h(tc.to), grace, tc.read)
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if n != tc.keys {
				t.Errorf("%d keys counted, want %d", n, tc.keys)
			}
			got := rdb.HGet(ctx, part, keyspace.FieldExpired).Val()
			want := tc.stored.Expired
			if tc.expired >= 0 {
				want = itoa(h(tc.expired))
				if g := rdb.HGet(ctx, part, keyspace.FieldExpiredGrace).Val(); g != itoa(grace.Milliseconds()) {
					t.Errorf("grace recorded %q, want %d", g, grace.Milliseconds())
				}
			}
			if got != want {
				t.Errorf("progress %q, want %q", got, want)
			}
			for _, v := range views {
				for i := range int64(160) {
					ttl := rdb.PTTL(ctx, keys.Hour(p, v, h(i))).Val()
					if w := tc.ttl(i); w && (ttl <= 0 || ttl > grace) || !w && ttl != -1 {
						t.Fatalf("%s hour %d: TTL %v, want the grace: %v", v, i, ttl, w)
					}
				}
			}
		})
	}
}
