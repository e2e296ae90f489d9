package membership

import (
	"context"
	_ "embed"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

//go:embed heartbeat.lua
var heartbeatLua string

var heartbeatScript = redis.NewScript(heartbeatLua)

// Members heartbeats one worker into a membership zset.
type Members struct {
	rdb   redis.Cmdable
	key   string
	owner string
	ttl   time.Duration
}

// New returns the membership of worker owner in the zset at key. ttl is how
// long a member stays live without a heartbeat.
func New(rdb redis.Cmdable, key, owner string, ttl time.Duration) (*Members, error) {
	if owner == "" || strings.Contains(owner, "|") {
		return nil, fmt.Errorf("worker id %q: must be non-empty and without '|'", owner)
	}
	if ttl < 100*time.Millisecond {
		return nil, fmt.Errorf("lease TTL %v: must be at least 100ms", ttl)
	}
	return &Members{rdb: rdb, key: key, owner: owner, ttl: ttl}, nil
}

// Owner is the worker id.
func (m *Members) Owner() string { return m.owner }

// Heartbeat marks the worker live for one TTL and returns every live worker, sorted.
func (m *Members) Heartbeat(ctx context.Context) ([]string, error) {
	return m.members(ctx, m.owner)
}

// Live returns the live workers without heartbeating.
func (m *Members) Live(ctx context.Context) ([]string, error) { return m.members(ctx, "") }

func (m *Members) members(ctx context.Context, who string) ([]string, error) {
	ms, err := heartbeatScript.Run(ctx, m.rdb, []string{m.key}, who, m.ttl.Milliseconds()).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	slices.Sort(ms)
	return ms, nil
}

// Leave removes the worker from the members at once, so that the others
// rebalance without waiting for its heartbeat to expire.
func (m *Members) Leave(ctx context.Context) error {
	if err := m.rdb.ZRem(ctx, m.key, m.owner).Err(); err != nil {
		return fmt.Errorf("leave: %w", err)
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
