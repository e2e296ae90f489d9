package speed

import (
	"context"
	"log/slog"

	"github.com/tributary-dev/tributary/internal/membership"
)

// heartbeat is the duty that keeps this worker a live member: each step
// renews its membership for one lease TTL and returns the live members. A
// worker that cannot heartbeat does nothing else in that round: without the
// members it cannot know its partitions.
type heartbeat struct {
	members *membership.Members
	log     *slog.Logger
}

// step heartbeats; ok is false when it failed (logged unless ctx is done).
func (h *heartbeat) step(ctx context.Context) (members []string, ok bool) {
	ms, err := h.members.Heartbeat(ctx)
	if err != nil {
		if ctx.Err() == nil {
			h.log.Warn("heartbeat failed", "err", err)
		}
		return nil, false
	}
	return ms, true
}
