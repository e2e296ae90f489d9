package speed

import "log/slog"

// handover is the duty that gives up the partitions no longer assigned to
// this worker: each flushes what it holds, then releases its lease, so that
// the new owner (which waits for the lease) resumes from the committed offset.
type handover struct {
	log *slog.Logger
}

// step asks every owned partition outside want to hand over, once.
func (h *handover) step(owned runs, want []int) {
	wanted := make(map[int]bool, len(want))
	for _, p := range want {
		wanted[p] = true
	}
	for p, r := range owned {
		if !wanted[p] && !r.stopping {
			r.stopping = true
			h.log.Info("handing partition over", "partition", p)
			r.handOver()
		}
	}
}
