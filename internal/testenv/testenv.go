package testenv

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
)

// RepoRoot returns the repository root (the directory holding go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testenv: no go.mod above the working directory")
		}
		dir = parent
	}
}

// setting returns an environment variable, falling back to .run/env.
func setting(t testing.TB, name string) string {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		return v
	}
	path := filepath.Join(RepoRoot(t), ".run", "env")
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("testenv: %s is not set and %s is missing: start the services with `make services` (%v)", name, path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export ")
		k, v, ok := strings.Cut(line, "=")
		if ok && k == name {
			return strings.Trim(v, `'"`)
		}
	}
	t.Fatalf("testenv: %s is set neither in the environment nor in %s", name, path)
	return ""
}

// RedisURL is the URL of the project's Redis.
func RedisURL(t testing.TB) string { return setting(t, "TRIBUTARY_REDIS_URL") }

// AMQPURL is the URL of the project's RabbitMQ.
func AMQPURL(t testing.TB) string { return setting(t, "TRIBUTARY_AMQP_URL") }

// Redis returns a client of the project's Redis, closed at the end of the
// test: one server, or a Redis Cluster when TRIBUTARY_REDIS_URL is a cluster
// URL (redis+cluster://, or ?addr=; `make test-rediscluster`).
func Redis(t testing.TB) redis.UniversalClient {
	t.Helper()
	c, err := OpenRedis(RedisURL(t))
	if err != nil {
		t.Fatalf("testenv: %v (run `make services`)", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// OpenRedis opens a client of the Redis at url (one server, or a cluster:
// redis+cluster:// or ?addr=, as internal/redisconn, which cannot be imported
// here: its tests use this package) and checks that it answers; the caller
// closes it.
func OpenRedis(url string) (redis.UniversalClient, error) {
	c, err := newRedis(url, nil)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redis does not answer: %w", err)
	}
	return c, nil
}

// newRedis builds a client of url, dialing through dial when not nil.
func newRedis(url string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) (redis.UniversalClient, error) {
	if rest, ok := strings.CutPrefix(url, "redis+cluster://"); ok || strings.Contains(url, "addr=") {
		if ok {
			url = "redis://" + rest
		}
		o, err := redis.ParseClusterURL(url)
		if err != nil {
			return nil, fmt.Errorf("redis cluster URL: %w", err)
		}
		o.Dialer = dial
		return redis.NewClusterClient(o), nil
	}
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis URL: %w", err)
	}
	o.Dialer = dial
	return redis.NewClient(o), nil
}

// IsCluster reports whether rdb is a Redis Cluster client.
func IsCluster(rdb redis.UniversalClient) bool {
	_, ok := rdb.(*redis.ClusterClient)
	return ok
}

// ForEachMaster runs fn on every primary: the cluster's masters, or rdb
// itself when it is one server. Commands without a key (SCAN, KEYS, DBSIZE,
// FLUSHDB) reach one node only on a cluster.
func ForEachMaster(ctx context.Context, rdb redis.UniversalClient, fn func(ctx context.Context, node redis.Cmdable) error) error {
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return fn(ctx, c) })
	}
	return fn(ctx, rdb)
}

// AMQP returns a connection to the project's RabbitMQ, closed at the end of the test.
func AMQP(t testing.TB) *amqp.Connection {
	t.Helper()
	c, err := amqp.Dial(AMQPURL(t))
	if err != nil {
		t.Fatalf("testenv: RabbitMQ does not answer (run `make services`): %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Prefix returns a name prefix unique to this test run, for queues and keys.
func Prefix(t testing.TB) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := strings.NewReplacer("/", "-", " ", "-").Replace(strings.ToLower(t.Name()))
	if len(name) > 24 {
		name = name[:24]
	}
	return "t-" + name + "-" + hex.EncodeToString(b)
}

// DataFile returns the path of a file of the data set in data/, failing the
// test with the way to get it when it is missing.
func DataFile(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(RepoRoot(t), "data", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("testenv: %s is missing: fetch the data set with `make data` (%v)", p, err)
	}
	return p
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildOut  []byte
)

// Binary builds cmd/tributary once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	root := RepoRoot(t)
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tributary-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "tributary")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/tributary")
		cmd.Dir = root
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("testenv: building tributary: %v\n%s", buildErr, buildOut)
	}
	return binPath
}

// DeleteKeys unlinks every key matching pattern (on every primary of a
// cluster): tests clean up their own prefix, never the whole database, which
// other test packages share.
func DeleteKeys(rdb redis.UniversalClient, pattern string) {
	ctx := context.Background()
	_ = ForEachMaster(ctx, rdb, func(ctx context.Context, node redis.Cmdable) error {
		it := node.Scan(ctx, 0, pattern, 5000).Iterator()
		for it.Next(ctx) {
			// One key per UNLINK: keys of different slots cannot share one
			// command on a cluster.
			node.Unlink(ctx, it.Val())
		}
		return it.Err()
	})
}

// Keys lists the keys matching pattern, on every primary of a cluster.
func Keys(t testing.TB, rdb redis.UniversalClient, pattern string) []string {
	t.Helper()
	var mu sync.Mutex
	var out []string
	err := ForEachMaster(context.Background(), rdb, func(ctx context.Context, node redis.Cmdable) error {
		it := node.Scan(ctx, 0, pattern, 5000).Iterator()
		for it.Next(ctx) {
			mu.Lock()
			out = append(out, it.Val())
			mu.Unlock()
		}
		return it.Err()
	})
	if err != nil {
		t.Fatalf("testenv: scan %s: %v", pattern, err)
	}
	return out
}
