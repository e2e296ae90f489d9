package state

import (
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Store reads and writes the state of graphs under a key prefix.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
	base   string // "<prefix>:{<prefix>}": the keys the scripts touch
}

// New returns a store using rdb under prefix. Every key a script touches
// is under "<prefix>:{<prefix>}:", in the Redis Cluster slot of the hash tag
// {<prefix>}, the slot of the asynq queues the scripts enqueue into
// (taskq.DefaultQueues, checked by taskq.Queues.CheckSlot).
func New(rdb redis.UniversalClient, prefix string) *Store {
	return &Store{rdb: rdb, prefix: prefix, base: prefix + ":{" + prefix + "}"}
}

// Prefix is the key prefix.
func (s *Store) Prefix() string { return s.prefix }

// Redis is the client.
func (s *Store) Redis() redis.UniversalClient { return s.rdb }

// graphParts, then the active set and the stats hash, are KEYS[1..10] of
// every graph script, in this order.
var graphParts = [...]string{"meta", "state", "pending", "out", "msg", "running", "attempt", "spec"}

func (s *Store) graphKeys(id string, extra ...string) []string {
	keys := make([]string, 0, len(graphParts)+1+len(extra))
	for _, p := range graphParts {
		keys = append(keys, s.key(id, p))
	}
	keys = append(keys, s.activeKey(), s.statsKey())
	return append(keys, extra...)
}

func (s *Store) key(id, part string) string { return s.base + ":graph:" + id + ":" + part }
func (s *Store) activeKey() string          { return s.base + ":graphs:active" }
func (s *Store) statsKey() string           { return s.base + ":stats" }

// ResultKey is where the result of task key is stored.
func (s *Store) ResultKey(key string) string { return s.base + ":result:" + key }

func (s *Store) workerKey(id string) string { return s.prefix + ":worker:" + id }
func (s *Store) workersKey() string         { return s.prefix + ":workers" }

func nowNS() string { return fmt.Sprint(time.Now().UnixNano()) }

func parseNS(s string) time.Time {
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil || n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
