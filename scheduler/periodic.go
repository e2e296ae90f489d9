package scheduler

import (
	"context"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tributary-dev/tributary/internal/asynqlog"
	"github.com/tributary-dev/tributary/scheduler/graph"
)

// Periodic is a graph submitted on a schedule.
type Periodic struct {
	// Name identifies the entry (unique among a scheduler's entries).
	Name string
	// Cron is asynq's schedule syntax: "*/5 * * * *", "@every 1h", "@daily".
	Cron string
	// Build returns the graph to submit at time at. Content-addressed keys
	// (the default graph ID is the graph's hash) make a submission that
	// repeats a previous one a no-op and recompute only what changed.
	Build func(ctx context.Context, at time.Time) (*graph.Graph, error)
}

// typePeriodic is the asynq task that asynq's periodic-task scheduler
// enqueues on the control queue; any replica's control server builds and
// submits the graph.
const typePeriodic = "tributary:periodic"

func (s *Scheduler) controlQueue() string { return s.cfg.KeyPrefix + ".control" }

// startControl starts the asynq server of the control queue (periodic
// submissions), on every replica, so that a submission enqueued just before
// the leader died is still done.
func (s *Scheduler) startControl() (*asynq.Server, error) {
	if len(s.cfg.Periodic) == 0 {
		return nil, nil
	}
	byName := make(map[string]Periodic, len(s.cfg.Periodic))
	for _, p := range s.cfg.Periodic {
		if _, dup := byName[p.Name]; dup || p.Name == "" || p.Build == nil {
			return nil, fmt.Errorf("periodic graph %q: empty or duplicate name, or no Build", p.Name)
		}
		byName[p.Name] = p
	}
	srv := asynq.NewServerFromRedisClient(s.cfg.Redis, asynq.Config{
		Concurrency:       1,
		Queues:            map[string]int{s.controlQueue(): 1},
		TaskCheckInterval: 200 * time.Millisecond,
		Logger:            asynqlog.Logger{L: s.log},
		LogLevel:          asynq.WarnLevel,
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc(typePeriodic, func(ctx context.Context, t *asynq.Task) error {
		p, ok := byName[string(t.Payload())]
		if !ok {
			return fmt.Errorf("periodic graph %q is not registered here: %w", t.Payload(), asynq.SkipRetry)
		}
		g, err := p.Build(ctx, time.Now())
		if err != nil {
			return fmt.Errorf("periodic graph %q: build: %w", p.Name, err)
		}
		res, err := s.Submit(ctx, g)
		if err != nil {
			return fmt.Errorf("periodic graph %q: %w", p.Name, err)
		}
		s.log.Info("periodic graph submitted", "name", p.Name, "graph", res.ID, "created", res.Created)
		return nil
	})
	if err := srv.Start(mux); err != nil {
		return nil, fmt.Errorf("control server: %w", err)
	}
	return srv, nil
}

// runPeriodic runs asynq's periodic-task scheduler while ctx (leadership)
// lasts, so that only the leader enqueues periodic submissions.
func (s *Scheduler) runPeriodic(ctx context.Context) {
	if len(s.cfg.Periodic) == 0 {
		return
	}
	sch := asynq.NewSchedulerFromRedisClient(s.cfg.Redis, &asynq.SchedulerOpts{Logger: asynqlog.Logger{L: s.log}, LogLevel: asynq.WarnLevel})
	for _, p := range s.cfg.Periodic {
		if _, err := sch.Register(p.Cron, asynq.NewTask(typePeriodic, []byte(p.Name)),
			asynq.Queue(s.controlQueue()), asynq.MaxRetry(3), asynq.Timeout(time.Minute)); err != nil {
			s.log.Error("periodic graph", "name", p.Name, "cron", p.Cron, "err", err)
		}
	}
	if err := sch.Start(); err != nil {
		s.log.Error("periodic scheduler", "err", err)
		return
	}
	<-ctx.Done()
	sch.Shutdown()
}
