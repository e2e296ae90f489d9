package redisconn

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/internal/testenv"
)

func TestParse(t *testing.T) {
	tests := []struct {
		url     string
		kind    Kind
		asynq   any
		wantErr bool
	}{
		{url: "redis://:pw@127.0.0.1:6390/2", kind: Single, asynq: asynq.RedisClientOpt{}},
		{url: "redis://:pw@127.0.0.1:26379/0?master_name=tributary&addr=127.0.0.1:26380&addr=127.0.0.1:26381",
			kind: Failover, asynq: asynq.RedisFailoverClientOpt{}},
		{url: "redis://:pw@127.0.0.1:7000?addr=127.0.0.1:7001", kind: Cluster, asynq: asynq.RedisClusterClientOpt{}},
		{url: "redis+cluster://:pw@127.0.0.1:7000", kind: Cluster, asynq: asynq.RedisClusterClientOpt{}},
		{url: "redis://127.0.0.1:26379/0?master_name=", wantErr: true},
		{url: "http://127.0.0.1:6379", wantErr: true},
		{url: "redis://127.0.0.1:6379/0?bogus=1&master_name=m", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			o, err := Parse(tt.url)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Parse accepted %q as %s", tt.url, o.Kind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.Kind != tt.kind {
				t.Fatalf("kind %s, want %s", o.Kind, tt.kind)
			}
			if got, want := fmt.Sprintf("%T", o.Asynq()), fmt.Sprintf("%T", tt.asynq); got != want {
				t.Fatalf("asynq options %s, want %s", got, want)
			}
			c := o.NewUniversal()
			_, isCluster := c.(*redis.ClusterClient)
			c.Close()
			if (o.Kind == Cluster) != isCluster {
				t.Fatalf("NewUniversal on %s: %T", o.Kind, c)
			}
		})
	}
}

func TestFailoverPasswordForBoth(t *testing.T) {
	o, err := Parse("redis://:secret@127.0.0.1:26379/3?master_name=m&addr=127.0.0.1:26380")
	if err != nil {
		t.Fatal(err)
	}
	f := o.failover
	if f.Password != "secret" || f.SentinelPassword != "secret" || f.DB != 3 || len(f.SentinelAddrs) != 2 {
		t.Fatalf("failover options %+v", f)
	}
	o, err = Parse("redis://:s@127.0.0.1:26379/0?master_name=m&password=d")
	if err != nil {
		t.Fatal(err)
	}
	if o.failover.Password != "d" || o.failover.SentinelPassword != "s" {
		t.Fatalf("separate passwords: %+v", o.failover)
	}
}

// TestFailoverFollowed kills the primary and checks that the client and an
// asynq client made from the same URL both write to the promoted replica.
func TestFailoverFollowed(t *testing.T) {
	s := testenv.StartSentinelSet(t, 17890)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, o, err := Open(ctx, s.URL(), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if o.Kind != Failover {
		t.Fatalf("kind %s", o.Kind)
	}
	if err := c.Set(ctx, "k", "before", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// The write must reach the replica before the primary dies, or the
	// failover may lose it (replication is asynchronous).
	if n, err := c.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT: %d replicas, %v", n, err)
	}
	promoted := s.KillPrimary(ctx)
	t.Logf("replica promoted %v after the primary's death", promoted.Round(time.Millisecond))

	// The client follows: writes fail during the failover, then succeed on the new primary.
	start := time.Now()
	for {
		err := c.Set(ctx, "k", "after", 0).Err()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no write succeeded within %v of the primary's death: %v", time.Since(start), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("writes resumed %v after the promotion", time.Since(start).Round(time.Millisecond))
	direct := s.Direct(s.Base() + 1)
	defer direct.Close()
	if v, err := direct.Get(ctx, "k").Result(); err != nil || v != "after" {
		t.Fatalf("the promoted replica holds %q (%v), want the write made after the failover", v, err)
	}
	info, err := direct.Info(ctx, "replication").Result()
	if err != nil || !strings.Contains(info, "role:master\r\n") {
		t.Fatalf("the replica was not promoted: %s %v", info, err)
	}

	ac := asynq.NewClient(o.Asynq())
	defer ac.Close()
	if _, err := ac.EnqueueContext(ctx, asynq.NewTask("t", nil), asynq.Queue("failover-test")); err != nil {
		t.Fatalf("asynq through Sentinel: %v", err)
	}
	if n, err := direct.LLen(ctx, "asynq:{failover-test}:pending").Result(); err != nil || n != 1 {
		t.Fatalf("asynq task not on the promoted primary: %d %v", n, err)
	}
}
