package speed

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/internal/lease"
	"github.com/tributary-dev/tributary/speed/keyspace"
)

// acquisition is the duty that takes the lease of every partition assigned to
// this worker that it does not own yet, with a new fencing token, and starts
// consuming it.
type acquisition struct {
	rdb  redis.Scripter
	keys keyspace.Keys
	self string
	ttl  time.Duration
	log  *slog.Logger
	// start runs a newly acquired partition until it stops, then closes r.done.
	start func(ctx context.Context, r *run)
}

// step acquires and starts the wanted partitions missing from owned.
func (a *acquisition) step(ctx context.Context, owned runs, want []int) {
	for _, p := range want {
		if _, ok := owned[p]; ok {
			continue
		}
		g, err := lease.Acquire(ctx, a.rdb, a.keys.Lease(p), a.keys.Fence(p), a.self, a.ttl)
		if errors.Is(err, lease.ErrHeld) {
			continue // its previous owner is still handing it over, or is dead and its lease not yet expired
		}
		if err != nil {
			if ctx.Err() == nil {
				a.log.Warn("acquire failed", "partition", p, "err", err)
			}
			continue
		}
		r := newRun(p, g)
		owned[p] = r
		a.log.Info("partition acquired", "partition", p, "token", g.Token)
		a.start(ctx, r)
	}
}
