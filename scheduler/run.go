package scheduler

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tributary-dev/tributary/scheduler/internal/state"
)

// Run elects a leader among the replicas and, while this replica leads,
// sweeps and runs the periodic graphs. It returns when ctx is done, giving
// the lease up so that a standby takes over at once.
func (s *Scheduler) Run(ctx context.Context) error {
	ctl, err := s.startControl()
	if err != nil {
		return err
	}
	if ctl != nil {
		defer ctl.Shutdown()
	}
	var (
		stop context.CancelFunc
		wg   sync.WaitGroup
	)
	stepDown := func() {
		if stop != nil {
			stop()
			wg.Wait()
			stop = nil
		}
		if s.leader.Swap(false) {
			s.m.leader.Set(0)
			s.log.Info("no longer the leader")
		}
	}
	t := time.NewTicker(s.cfg.LeaseTTL / 3)
	defer t.Stop()
	for {
		ok, err := s.lease.TryAcquire(ctx)
		if err != nil && ctx.Err() == nil {
			// Without Redis we cannot know: stop leading rather than risk
			// two leaders (ours would have expired anyway).
			s.log.Warn("leader lease", "err", err)
		}
		switch {
		case ok && !s.leader.Load():
			s.leader.Store(true)
			s.m.leader.Set(1)
			s.log.Info("leading")
			lctx, cancel := context.WithCancel(ctx)
			stop = cancel
			wg.Add(2)
			go func() { defer wg.Done(); s.sweepLoop(lctx) }()
			go func() { defer wg.Done(); s.runPeriodic(lctx) }()
		case !ok && s.leader.Load():
			stepDown()
		}
		select {
		case <-ctx.Done():
			stepDown()
			if err := s.lease.Release(context.WithoutCancel(ctx)); err != nil {
				s.log.Warn("release lease", "err", err)
			}
			return nil
		case <-t.C:
		}
	}
}

func (s *Scheduler) sweepLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("sweep", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sweep repairs what crashes left behind: it finishes submissions whose
// submitter died, and re-dispatches the running tasks of dead workers (a
// worker is dead when its advertisement expired). Only the leader calls it
// periodically; calling it from anywhere is safe (every repair is a
// compare-and-set script).
func (s *Scheduler) Sweep(ctx context.Context) error {
	ids, err := s.store.Active(ctx)
	if err != nil {
		return err
	}
	running := make(map[string]map[string]string)
	for _, id := range ids {
		st, err := s.store.Meta(ctx, id)
		if err != nil {
			continue // expired or just finished
		}
		switch st.State {
		case state.GraphSubmitting:
			if time.Since(st.Created) > s.cfg.ResumeAfter {
				if ok, err := s.store.Resume(ctx, id); err != nil {
					s.log.Warn("resume submission", "graph", id, "err", err)
				} else if ok {
					s.m.resumed.Inc()
					s.log.Info("finished an interrupted submission", "graph", id)
				}
			}
		case state.GraphRunning:
			r, err := s.store.Running(ctx, id)
			if err != nil {
				return err
			}
			running[id] = r
		}
	}
	// Read the live workers after the running tasks: a worker advertises
	// before it runs anything, so a runner missing here is really dead.
	ws, err := s.store.LiveWorkers(ctx)
	if err != nil {
		return err
	}
	live := make(map[string]bool, len(ws))
	for _, w := range ws {
		live[w.ID] = true
	}
	for id, r := range running {
		for key, worker := range r {
			if live[worker] {
				continue
			}
			ok, err := s.store.Redispatch(ctx, id, key, worker)
			if err != nil {
				return fmt.Errorf("sweep: %w", err)
			}
			if ok {
				s.m.redispatched.Inc()
				s.log.Warn("re-dispatched the task of a dead worker", "graph", id, "key", key, "worker", worker)
			}
		}
	}
	return nil
}
