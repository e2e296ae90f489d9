package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

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

// periodic is the cron duty, in two halves: run (the leader only) runs
// asynq's periodic-task scheduler, which enqueues one typePeriodic task per
// due entry on the control queue; startControl (every replica) serves that
// queue, so that a submission enqueued just before the leader died is still
// done, by handle.
type periodic struct {
	rdb     redis.UniversalClient
	queue   string // the control queue
	entries map[string]Periodic
	submit  func(context.Context, *graph.Graph) (*Submitted, error)
	clock   Clock
	log     *slog.Logger
}

func newPeriodic(s *Scheduler) (*periodic, error) {
	byName := make(map[string]Periodic, len(s.cfg.Periodic))
	for _, p := range s.cfg.Periodic {
		if _, dup := byName[p.Name]; dup || p.Name == "" || p.Build == nil {
			return nil, fmt.Errorf("periodic graph %q: empty or duplicate name, or no Build", p.Name)
		}
		byName[p.Name] = p
	}
	return &periodic{rdb: s.cfg.Redis, queue: s.cfg.KeyPrefix + ".control", entries: byName,
		submit: s.Submit, clock: s.cfg.Clock, log: s.log}, nil
}

// startControl starts the asynq server of the control queue (nil if there
// is no periodic graph); the caller shuts it down.
func (p *periodic) startControl() (*asynq.Server, error) {
	if len(p.entries) == 0 {
		return nil, nil
	}
	srv := asynq.NewServerFromRedisClient(p.rdb, asynq.Config{
		Concurrency:       1,
		Queues:            map[string]int{p.queue: 1},
		TaskCheckInterval: 200 * time.Millisecond,
		Logger:            asynqlog.Logger{L: p.log},
		LogLevel:          asynq.WarnLevel,
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc(typePeriodic, p.handle)
	if err := srv.Start(mux); err != nil {
		return nil, fmt.Errorf("control server: %w", err)
	}
	return srv, nil
}

// handle builds and submits the periodic graph a control task names.
func (p *periodic) handle(ctx context.Context, t *asynq.Task) error {
	e, ok := p.entries[string(t.Payload())]
	if !ok {
		return fmt.Errorf("periodic graph %q is not registered here: %w", t.Payload(), asynq.SkipRetry)
	}
	g, err := e.Build(ctx, p.clock.Now())
	if err != nil {
		return fmt.Errorf("periodic graph %q: build: %w", e.Name, err)
	}
	res, err := p.submit(ctx, g)
	if err != nil {
		return fmt.Errorf("periodic graph %q: %w", e.Name, err)
	}
	p.log.Info("periodic graph submitted", "name", e.Name, "graph", res.ID, "created", res.Created)
	return nil
}

// run runs asynq's periodic-task scheduler while ctx (leadership) lasts,
// so that only the leader enqueues periodic submissions.
func (p *periodic) run(ctx context.Context) {
	if len(p.entries) == 0 {
		return
	}
	sch := asynq.NewSchedulerFromRedisClient(p.rdb, &asynq.SchedulerOpts{Logger: asynqlog.Logger{L: p.log}, LogLevel: asynq.WarnLevel})
	for _, e := range p.entries {
		if _, err := sch.Register(e.Cron, asynq.NewTask(typePeriodic, []byte(e.Name)),
			asynq.Queue(p.queue), asynq.MaxRetry(3), asynq.Timeout(time.Minute)); err != nil {
			p.log.Error("periodic graph", "name", e.Name, "cron", e.Cron, "err", err)
		}
	}
	if err := sch.Start(); err != nil {
		p.log.Error("periodic scheduler", "err", err)
		return
	}
	<-ctx.Done()
	sch.Shutdown()
}
