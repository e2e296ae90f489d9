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
}

// New returns a store using rdb under prefix.
func New(rdb redis.UniversalClient, prefix string) *Store {
	return &Store{rdb: rdb, prefix: prefix}
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
		keys = append(keys, s.prefix+":graph:"+id+":"+p)
	}
	keys = append(keys, s.activeKey(), s.statsKey())
	return append(keys, extra...)
}

func (s *Store) key(id, part string) string { return s.prefix + ":graph:" + id + ":" + part }
func (s *Store) activeKey() string          { return s.prefix + ":graphs:active" }
func (s *Store) statsKey() string           { return s.prefix + ":stats" }

// ResultKey is where the result of task key is stored.
func (s *Store) ResultKey(key string) string { return s.prefix + ":result:" + key }

func (s *Store) workerKey(id string) string { return s.prefix + ":worker:" + id }
func (s *Store) workersKey() string         { return s.prefix + ":workers" }

// prelude is shared by the graph scripts: key names and the helpers that
// enqueue an asynq task (asynq v0.26.0's enqueueCmd, inlined so that the
// state change and the enqueue are one atomic step) and finish a graph.
const prelude = `
local META, STATE, PENDING, OUT, MSG, RUNNING, ATTEMPT, SPEC, ACTIVE, STATS = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local function enqueue(q, tid, msg, now)
  local pfx = 'asynq:{' .. q .. '}:'
  if redis.call('EXISTS', pfx .. 't:' .. tid) == 0 then
    redis.call('HSET', pfx .. 't:' .. tid, 'msg', msg, 'state', 'pending', 'pending_since', now)
    redis.call('LPUSH', pfx .. 'pending', tid)
  end
end
local function finish(gstate, now)
  redis.call('HSET', META, 'state', gstate, 'finished', now)
  redis.call('SREM', ACTIVE, redis.call('HGET', META, 'id'))
  redis.call('HINCRBY', STATS, 'graphs_' .. gstate, 1)
  local ttl = redis.call('HGET', META, 'gttl')
  if ttl and tonumber(ttl) > 0 then
    for i = 1, 8 do redis.call('PEXPIRE', KEYS[i], ttl) end
  end
end
-- cancel_pending marks every waiting or queued task cancelled (their queued
-- asynq tasks then find the graph stopped and do nothing).
local function cancel_pending()
  local all = redis.call('HGETALL', STATE)
  local n = 0
  for i = 1, #all, 2 do
    local st = all[i + 1]
    if st == 'w' or st == 'q' then
      redis.call('HSET', STATE, all[i], 'c')
      n = n + 1
    end
  end
  if n > 0 then redis.call('HINCRBY', META, 'cancelled', n) end
  return n
end
`

func script(body string) *redis.Script { return redis.NewScript(prelude + body) }

func nowNS() string { return fmt.Sprint(time.Now().UnixNano()) }

func parseNS(s string) time.Time {
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil || n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
