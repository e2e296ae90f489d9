package workers

import (
	"context"
	"log/slog"
	"time"

	"github.com/tributary-dev/tributary/scheduler"
)

// advertiser is what the heartbeat needs of the scheduler's state.
type advertiser interface {
	Advertise(ctx context.Context, w *scheduler.WorkerInfo, ttl time.Duration) error
	Withdraw(ctx context.Context, id string) error
}

// heartbeat is the worker's liveness duty: it advertises the worker's
// functions every interval with a TTL of four intervals (the scheduler takes
// a worker whose advertisement expired for dead and re-dispatches its
// running tasks), and withdraws the advertisement on a clean stop, so that
// the scheduler need not wait for the TTL. One struct, one timer loop.
type heartbeat struct {
	ads      advertiser
	info     *scheduler.WorkerInfo
	interval time.Duration
	log      *slog.Logger
}

func (h *heartbeat) ttl() time.Duration { return 4 * h.interval }

// start advertises the worker once: it must be live before it runs anything.
func (h *heartbeat) start(ctx context.Context) error {
	return h.ads.Advertise(ctx, h.info, h.ttl())
}

// run renews the advertisement until ctx is done.
func (h *heartbeat) run(ctx context.Context) {
	t := time.NewTicker(h.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := h.ads.Advertise(ctx, h.info, h.ttl()); err != nil && ctx.Err() == nil {
				h.log.Warn("heartbeat", "err", err)
			}
		}
	}
}

// stop withdraws the advertisement (ctx may be done already).
func (h *heartbeat) stop(ctx context.Context) {
	if err := h.ads.Withdraw(context.WithoutCancel(ctx), h.info.ID); err != nil {
		h.log.Warn("withdraw", "err", err)
	}
}
