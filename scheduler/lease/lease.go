package lease

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Lease is one replica's view of the leader key.
type Lease struct {
	rdb redis.UniversalClient
	key string
	id  string
	ttl time.Duration
}

// New returns a lease on key for replica id, valid ttl after each renewal.
func New(rdb redis.UniversalClient, key, id string, ttl time.Duration) *Lease {
	return &Lease{rdb: rdb, key: key, id: id, ttl: ttl}
}

// acquireScript renews the lease if we hold it, takes it if nobody does.
var acquireScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`)

// TryAcquire takes or renews the lease; it reports whether we hold it.
func (l *Lease) TryAcquire(ctx context.Context) (bool, error) {
	n, err := acquireScript.Run(ctx, l.rdb, []string{l.key}, l.id, l.ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("lease %s: %w", l.key, err)
	}
	return n == 1, nil
}

var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// Release gives the lease up if we hold it, so that a standby takes over at
// once after a clean shutdown.
func (l *Lease) Release(ctx context.Context) error {
	if err := releaseScript.Run(ctx, l.rdb, []string{l.key}, l.id).Err(); err != nil {
		return fmt.Errorf("release lease %s: %w", l.key, err)
	}
	return nil
}

// Holder returns the current leader's ID ("" if none).
func (l *Lease) Holder(ctx context.Context) (string, error) {
	v, err := l.rdb.Get(ctx, l.key).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("lease %s: %w", l.key, err)
	}
	return v, nil
}

// ID is this replica's ID.
func (l *Lease) ID() string { return l.id }
