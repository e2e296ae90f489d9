package lease

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/speed/keyspace"
)

// Lease is one held partition lease.
type Lease struct {
	Partition int
	Owner     string
	Token     int64
}

// Value is what the lease key holds while the lease is held.
func (l Lease) Value() string { return l.Owner + "|" + strconv.FormatInt(l.Token, 10) }

// Manager joins, heartbeats and takes leases for one worker.
type Manager struct {
	rdb   redis.Cmdable
	keys  keyspace.Keys
	owner string
	ttl   time.Duration
}

// New returns a manager for worker owner. ttl is both the lease TTL and how
// long a member stays live without a heartbeat.
func New(rdb redis.Cmdable, keys keyspace.Keys, owner string, ttl time.Duration) (*Manager, error) {
	if owner == "" || strings.Contains(owner, "|") {
		return nil, fmt.Errorf("worker id %q: must be non-empty and without '|'", owner)
	}
	if ttl < 100*time.Millisecond {
		return nil, fmt.Errorf("lease TTL %v: must be at least 100ms", ttl)
	}
	return &Manager{rdb: rdb, keys: keys, owner: owner, ttl: ttl}, nil
}

// Owner is the worker id.
func (m *Manager) Owner() string { return m.owner }

// heartbeat renews this member, forgets members whose expiry passed, and
// returns the live members. Redis's TIME is the clock.
var heartbeat = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if ARGV[1] ~= '' then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
end
return redis.call('ZRANGE', KEYS[1], 0, -1)
`)

// Heartbeat marks the worker live for one TTL and returns every live worker, sorted.
func (m *Manager) Heartbeat(ctx context.Context) ([]string, error) {
	return m.members(ctx, m.owner)
}

// Members returns the live workers without heartbeating.
func (m *Manager) Members(ctx context.Context) ([]string, error) { return m.members(ctx, "") }

func (m *Manager) members(ctx context.Context, who string) ([]string, error) {
	ms, err := heartbeat.Run(ctx, m.rdb, []string{m.keys.Members()}, who, m.ttl.Milliseconds()).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	slices.Sort(ms)
	return ms, nil
}

// Leave removes the worker from the members at once, so that the others
// rebalance without waiting for its heartbeat to expire.
func (m *Manager) Leave(ctx context.Context) error {
	if err := m.rdb.ZRem(ctx, m.keys.Members(), m.owner).Err(); err != nil {
		return fmt.Errorf("leave: %w", err)
	}
	return nil
}

// acquire takes the lease with a new token when it is free or already this
// worker's (a restarted process with the same id, or a partition restarted
// after a failed flush: whatever the old holder still has in flight is then
// fenced off too). Returns the token, or 0 when another worker holds it.
var acquire = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local owner = string.match(cur, '^(.*)|%d+$')
  if owner ~= ARGV[1] then
    return 0
  end
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token, 'PX', ARGV[2])
return token
`)

// ErrHeld says that another worker holds the lease.
var ErrHeld = errors.New("lease held by another worker")

// Acquire takes partition p's lease. It returns ErrHeld when another worker holds it.
func (m *Manager) Acquire(ctx context.Context, p int) (Lease, error) {
	tok, err := acquire.Run(ctx, m.rdb, []string{m.keys.Lease(p), m.keys.Fence(p)}, m.owner, m.ttl.Milliseconds()).Int64()
	if err != nil {
		return Lease{}, fmt.Errorf("acquire partition %d: %w", p, err)
	}
	if tok == 0 {
		return Lease{}, fmt.Errorf("partition %d: %w", p, ErrHeld)
	}
	return Lease{Partition: p, Owner: m.owner, Token: tok}, nil
}

// renew extends a lease if it is still exactly ours; 1 if so, else 0.
var renew = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`)

// Renew extends every lease in one pipelined round trip and reports which
// are still held. A lease that is not held any more is lost for good.
func (m *Manager) Renew(ctx context.Context, ls []Lease) ([]bool, error) {
	if len(ls) == 0 {
		return nil, nil
	}
	pipe := m.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(ls))
	for i, l := range ls {
		cmds[i] = renew.Run(ctx, pipe, []string{m.keys.Lease(l.Partition)}, l.Value(), m.ttl.Milliseconds())
	}
	// Scripts are loaded by Acquire's first call; EVALSHA in a pipeline
	// cannot fall back to EVAL, so load it first.
	if err := renew.Load(ctx, m.rdb).Err(); err != nil {
		return nil, fmt.Errorf("renew: %w", err)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("renew: %w", err)
	}
	out := make([]bool, len(ls))
	for i, c := range cmds {
		n, err := c.Int64()
		if err != nil {
			return nil, fmt.Errorf("renew partition %d: %w", ls[i].Partition, err)
		}
		out[i] = n == 1
	}
	return out, nil
}

var release = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// Release gives a lease up at once (after the last flush), if still held.
func (m *Manager) Release(ctx context.Context, l Lease) error {
	if err := release.Run(ctx, m.rdb, []string{m.keys.Lease(l.Partition)}, l.Value()).Err(); err != nil {
		return fmt.Errorf("release partition %d: %w", l.Partition, err)
	}
	return nil
}

// Assign maps every partition in [0, n) to one of members (sorted, unique):
// rendezvous hashing, capped so that every member gets floor(n/len) or
// ceil(n/len) partitions. Every worker computes the same map from the same members, and a
// join or leave moves few partitions.
func Assign(members []string, n int) []string {
	out := make([]string, n)
	if len(members) == 0 {
		return out
	}
	floor, extra := n/len(members), n%len(members)
	load := make(map[string]int, len(members))
	type cand struct {
		m string
		w uint64
	}
	cs := make([]cand, len(members))
	for p := 0; p < n; p++ {
		for i, m := range members {
			cs[i] = cand{m, weight(m, p)}
		}
		slices.SortFunc(cs, func(a, b cand) int {
			if a.w != b.w {
				if a.w > b.w {
					return -1
				}
				return 1
			}
			return strings.Compare(a.m, b.m)
		})
		for _, c := range cs {
			// Total capacity is exactly n, so every partition finds a member.
			if load[c.m] < floor || (load[c.m] == floor && extra > 0) {
				if load[c.m] == floor {
					extra--
				}
				out[p] = c.m
				load[c.m]++
				break
			}
		}
	}
	return out
}

func weight(member string, p int) uint64 {
	h := fnv.New64a()
	h.Write([]byte(member))
	h.Write([]byte{0, byte(p), byte(p >> 8), byte(p >> 16)})
	// FNV's low bits mix poorly for similar inputs: finish with splitmix64.
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
