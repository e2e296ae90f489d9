package speed

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-dev/tributary/internal/lease"
	"github.com/tributary-dev/tributary/speed/metrics"
)

// renewal is the duty that extends the leases of the partitions this worker
// holds, in one round trip, and drops at once (without a flush) a partition
// whose lease it finds lost: another worker may own it already, and the flush
// script would refuse its deltas anyway.
type renewal struct {
	rdb redis.Cmdable
	ttl time.Duration
	m   *metrics.Metrics
	log *slog.Logger
}

// step renews the leases of owned partitions that are not being handed over
// (those release their lease themselves). ok is false when the renewal itself
// failed: the round stops there, the leases are tried again next round.
func (r *renewal) step(ctx context.Context, owned runs) (ok bool) {
	var held []*run
	for _, rn := range owned {
		if !rn.stopping {
			held = append(held, rn)
		}
	}
	if len(held) == 0 {
		return true
	}
	gs := make([]lease.Grant, len(held))
	for i, rn := range held {
		gs[i] = rn.grant
	}
	still, err := lease.Renew(ctx, r.rdb, gs, r.ttl)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("lease renewal failed", "err", err)
		}
		return false
	}
	for i, rn := range held {
		if !still[i] {
			r.m.LeasesLost.Inc()
			r.log.Warn("lease lost: dropping the partition's pending deltas", "partition", rn.part, "token", rn.grant.Token)
			rn.drop()
		}
	}
	return true
}
