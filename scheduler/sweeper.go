package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/tributary-dev/tributary/scheduler/internal/state"
)

// Clock tells the time; tests inject their own.
type Clock interface{ Now() time.Time }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// sweeper is the leader's repair duty: every interval it finishes the
// submissions whose submitter died (Resume) and re-dispatches the running
// tasks of dead workers (Redispatch). One struct, one timer loop, started
// and stopped with leadership (see elector).
type sweeper struct {
	store       *state.Store
	clock       Clock
	interval    time.Duration
	resumeAfter time.Duration
	log         *slog.Logger
	m           *metrics
}

// run sweeps every interval until ctx is done.
func (w *sweeper) run(ctx context.Context) {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		if err := w.sweep(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("sweep", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweep is one pass. Every repair is a compare-and-set script, so a pass
// racing another replica's, a worker or a submitter is safe.
func (w *sweeper) sweep(ctx context.Context) error {
	ids, err := w.store.Active(ctx)
	if err != nil {
		return err
	}
	running := make(map[string]map[string]string)
	for _, id := range ids {
		m, err := w.store.Meta(ctx, id)
		if err != nil {
			continue // expired or just finished
		}
		switch m.State {
		case GraphSubmitting:
			w.resume(ctx, m)
		case GraphRunning:
			r, err := w.store.Running(ctx, id)
			if err != nil {
				return err
			}
			running[id] = r
		}
	}
	return w.redispatch(ctx, running)
}

// resume finishes graph m's submission if it is older than resumeAfter (its
// submitter is taken to have died).
func (w *sweeper) resume(ctx context.Context, m *state.Meta) {
	if w.clock.Now().Sub(m.Created) <= w.resumeAfter {
		return
	}
	if ok, err := w.store.Resume(ctx, m.ID); err != nil {
		w.log.Warn("resume submission", "graph", m.ID, "err", err)
	} else if ok {
		w.m.resumed.Inc()
		w.log.Info("finished an interrupted submission", "graph", m.ID)
	}
}

// redispatch re-dispatches the tasks of running (graph -> task -> worker)
// whose worker is dead.
func (w *sweeper) redispatch(ctx context.Context, running map[string]map[string]string) error {
	// Read the live workers after the running tasks: a worker advertises
	// before it runs anything, so a runner missing here is really dead.
	ws, err := w.store.LiveWorkers(ctx)
	if err != nil {
		return err
	}
	live := make(map[string]bool, len(ws))
	for _, wi := range ws {
		live[wi.ID] = true
	}
	for id, r := range running {
		for key, runner := range r {
			worker, _ := state.ParseRunner(runner)
			if live[worker] {
				continue
			}
			// Compare-and-set on the whole runner: a chunk's member is
			// re-dispatched alone (attempt+1); the chunk, when asynq
			// recovers it, skips it (start_batch's attempt check).
			ok, err := w.store.Redispatch(ctx, id, key, runner)
			if err != nil {
				return fmt.Errorf("sweep: %w", err)
			}
			if ok {
				w.m.redispatched.Inc()
				w.log.Warn("re-dispatched the task of a dead worker", "graph", id, "key", key, "worker", worker)
			}
		}
	}
	return nil
}
