package lease

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	//go:embed acquire.lua
	acquireLua string
	//go:embed renew.lua
	renewLua string
	//go:embed release.lua
	releaseLua string

	acquireScript = redis.NewScript(acquireLua)
	renewScript   = redis.NewScript(renewLua)
	releaseScript = redis.NewScript(releaseLua)
)

// ErrHeld says that another owner holds the lease.
var ErrHeld = errors.New("lease held by another owner")

// Grant is one held lease.
type Grant struct {
	Key   string
	Owner string
	// Token is the fencing token, 0 for an unfenced lease.
	Token int64
}

// Value is what the lease key holds while the grant is held:
// "<owner>|<token>" when fenced, the owner alone otherwise.
func (g Grant) Value() string {
	if g.Token == 0 {
		return g.Owner
	}
	return g.Owner + "|" + strconv.FormatInt(g.Token, 10)
}

// Acquire takes the lease at key for owner for ttl. With a fence key (a
// counter, in the key's Redis Cluster slot: one hash tag) the grant carries
// a new fencing token; owner must then not contain
// '|'. It returns an error wrapping ErrHeld when another owner holds it.
func Acquire(ctx context.Context, rdb redis.Scripter, key, fence, owner string, ttl time.Duration) (Grant, error) {
	if owner == "" || (fence != "" && strings.Contains(owner, "|")) {
		return Grant{}, fmt.Errorf("lease %s: owner %q must be non-empty (and without '|' when fenced)", key, owner)
	}
	keys := []string{key}
	if fence != "" {
		keys = append(keys, fence)
	}
	tok, err := acquireScript.Run(ctx, rdb, keys, owner, ttl.Milliseconds()).Int64()
	if err != nil {
		return Grant{}, fmt.Errorf("acquire lease %s: %w", key, err)
	}
	if tok == 0 {
		return Grant{}, fmt.Errorf("lease %s: %w", key, ErrHeld)
	}
	g := Grant{Key: key, Owner: owner}
	if fence != "" {
		g.Token = tok
	}
	return g, nil
}

// Renew extends every grant by ttl in one pipelined round trip and reports
// which are still held. A grant that is not held any more is lost for good.
func Renew(ctx context.Context, rdb redis.Cmdable, gs []Grant, ttl time.Duration) ([]bool, error) {
	if len(gs) == 0 {
		return nil, nil
	}
	// EVALSHA in a pipeline cannot fall back to EVAL: load the script first.
	if err := renewScript.Load(ctx, rdb).Err(); err != nil {
		return nil, fmt.Errorf("renew: %w", err)
	}
	pipe := rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(gs))
	for i, g := range gs {
		cmds[i] = renewScript.EvalSha(ctx, pipe, []string{g.Key}, g.Value(), ttl.Milliseconds())
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("renew: %w", err)
	}
	out := make([]bool, len(gs))
	for i, c := range cmds {
		n, err := c.Int64()
		if err != nil {
			return nil, fmt.Errorf("renew lease %s: %w", gs[i].Key, err)
		}
		out[i] = n == 1
	}
	return out, nil
}

// Release gives a grant up at once, if still held.
func Release(ctx context.Context, rdb redis.Scripter, g Grant) error {
	if err := releaseScript.Run(ctx, rdb, []string{g.Key}, g.Value()).Err(); err != nil {
		return fmt.Errorf("release lease %s: %w", g.Key, err)
	}
	return nil
}

// Holder returns the value the lease at key holds ("" if free).
func Holder(ctx context.Context, rdb redis.Cmdable, key string) (string, error) {
	v, err := rdb.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("lease %s: %w", key, err)
	}
	return v, nil
}

// Lease is one replica's handle on an unfenced leader lease: the key holds
// the leader's id.
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

// TryAcquire takes the lease if nobody holds it or renews it if we do; it
// reports whether we hold it.
func (l *Lease) TryAcquire(ctx context.Context) (bool, error) {
	_, err := Acquire(ctx, l.rdb, l.key, "", l.id, l.ttl)
	if errors.Is(err, ErrHeld) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

// Release gives the lease up if we hold it, so that a standby takes over at
// once after a clean shutdown.
func (l *Lease) Release(ctx context.Context) error {
	return Release(ctx, l.rdb, Grant{Key: l.key, Owner: l.id})
}

// Holder returns the current leader's id ("" if none).
func (l *Lease) Holder(ctx context.Context) (string, error) { return Holder(ctx, l.rdb, l.key) }

// ID is this replica's id.
func (l *Lease) ID() string { return l.id }
