package workers

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/testenv"
	"github.com/tributary-dev/tributary/scheduler"
)

// TestHeartbeat: the advertisement lives four intervals and is renewed
// every interval, so it outlives its first TTL while the loop runs; stop
// removes it at once.
func TestHeartbeat(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix+":*") })
	key := prefix + ":worker:hb-1"
	h := &heartbeat{
		ads:      scheduler.NewTaskRecorder(rdb, prefix, 0),
		info:     &scheduler.WorkerInfo{ID: "hb-1", Functions: []string{"f"}},
		interval: 100 * time.Millisecond,
		log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := h.start(ctx); err != nil {
		t.Fatal(err)
	}
	if ttl := rdb.PTTL(ctx, key).Val(); ttl <= 0 || ttl > 400*time.Millisecond {
		t.Fatalf("advertisement TTL %v, want (0, 400ms]", ttl)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); h.run(ctx) }()
	// Three renewals seen (the TTL jumps back up), and the advertisement
	// never missing in between.
	renewals, last := 0, rdb.PTTL(ctx, key).Val()
	deadline := time.Now().Add(20 * time.Second)
	for renewals < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d renewals seen in 20s", renewals)
		}
		ttl := rdb.PTTL(ctx, key).Val()
		if ttl <= 0 {
			t.Fatal("advertisement expired while the heartbeat ran")
		}
		if ttl > last {
			renewals++
		}
		last = ttl
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	h.stop(ctx)
	if rdb.Exists(context.Background(), key).Val() != 0 || rdb.SIsMember(context.Background(), prefix+":workers", "hb-1").Val() {
		t.Fatal("advertisement left after stop")
	}
}
