package scheduler

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tributary-dev/tributary/internal/lease"
)

// elector is the leader-election duty: every third of the lease's TTL it
// takes or renews the lease; while it holds it, it runs the leader's duties
// (each a func that returns when its context ends), and stops them the
// moment it loses it. It gives the lease up on shutdown, so that a standby
// takes over at once.
type elector struct {
	lease  *lease.Lease
	ttl    time.Duration
	duties []func(context.Context)
	log    *slog.Logger
	// onChange is called with true when this replica starts leading and
	// false when it stops.
	onChange func(leading bool)

	leading atomic.Bool
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

// run elects until ctx is done, then steps down and releases the lease.
func (e *elector) run(ctx context.Context) {
	t := time.NewTicker(e.ttl / 3)
	defer t.Stop()
	for {
		e.tick(ctx)
		select {
		case <-ctx.Done():
			e.stepDown()
			if err := e.lease.Release(context.WithoutCancel(ctx)); err != nil {
				e.log.Warn("release lease", "err", err)
			}
			return
		case <-t.C:
		}
	}
}

// tick is one election round.
func (e *elector) tick(ctx context.Context) {
	ok, err := e.lease.TryAcquire(ctx)
	if err != nil && ctx.Err() == nil {
		// Without Redis we cannot know: stop leading rather than risk
		// two leaders (ours would have expired anyway).
		e.log.Warn("leader lease", "err", err)
	}
	switch {
	case ok && !e.leading.Load():
		e.stepUp(ctx)
	case !ok && e.leading.Load():
		e.stepDown()
	}
}

func (e *elector) stepUp(ctx context.Context) {
	e.leading.Store(true)
	e.onChange(true)
	e.log.Info("leading")
	lctx, cancel := context.WithCancel(ctx)
	e.stop = cancel
	for _, d := range e.duties {
		e.wg.Add(1)
		go func() { defer e.wg.Done(); d(lctx) }()
	}
}

// stepDown stops the leader's duties and waits for them.
func (e *elector) stepDown() {
	if e.stop != nil {
		e.stop()
		e.wg.Wait()
		e.stop = nil
	}
	if e.leading.Swap(false) {
		e.onChange(false)
		e.log.Info("no longer the leader")
	}
}
