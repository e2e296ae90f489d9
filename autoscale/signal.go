package autoscale

import (
	"context"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"
)

// Signals reads both pools' loads from the running pipeline.
type Signals struct {
	// Ends gives each partition's stream end (its number of messages) and
	// Offsets each partition's committed offset (-1: nothing applied yet),
	// as serving's /v1/status reads them.
	Ends, Offsets func(ctx context.Context) ([]int64, error)
	// Inspector and Queues give the batch load: the tasks pending, active,
	// scheduled or waiting for a retry on the queues.
	Inspector *asynq.Inspector
	Queues    []string
}

// ErrUnknownPool is returned for a pool the signals cannot read.
var ErrUnknownPool = errors.New("autoscale: unknown pool")

// Load implements Signal.
func (s Signals) Load(ctx context.Context, k Kind) (float64, error) {
	switch k {
	case Speed:
		ends, err := s.Ends(ctx)
		if err != nil {
			return 0, fmt.Errorf("stream ends: %w", err)
		}
		offs, err := s.Offsets(ctx)
		if err != nil {
			return 0, fmt.Errorf("committed offsets: %w", err)
		}
		return float64(Lag(ends, offs)), nil
	case Batch:
		n, err := QueueDepth(s.Inspector, s.Queues)
		return float64(n), err
	}
	return 0, fmt.Errorf("%w %q", ErrUnknownPool, k)
}

// Lag is the messages written to the streams and not yet applied by the
// speed layer, over all partitions. Offsets start at 0: a stream of n
// messages ends at offset n-1, and a partition never applied has offset -1.
func Lag(ends, offsets []int64) int64 {
	var lag int64
	for p, end := range ends {
		off := int64(-1)
		if p < len(offsets) {
			off = offsets[p]
		}
		lag += max(0, end-1-off)
	}
	return lag
}

// QueueDepth counts the tasks a batch worker still has to run on queues:
// pending, active, scheduled and retrying. A queue that does not exist yet
// (no task ever enqueued) counts as empty.
func QueueDepth(ins *asynq.Inspector, queues []string) (int, error) {
	known, err := ins.Queues()
	if err != nil {
		return 0, fmt.Errorf("asynq queues: %w", err)
	}
	exists := map[string]bool{}
	for _, q := range known {
		exists[q] = true
	}
	n := 0
	for _, q := range queues {
		if !exists[q] {
			continue
		}
		info, err := ins.GetQueueInfo(q)
		if err != nil {
			return 0, fmt.Errorf("queue %s: %w", q, err)
		}
		n += info.Pending + info.Active + info.Scheduled + info.Retry
	}
	return n, nil
}
