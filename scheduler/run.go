package scheduler

import (
	"context"
)

// Run elects a leader among the replicas and, while this replica leads,
// sweeps and runs the periodic graphs. It returns when ctx is done, giving
// the lease up so that a standby takes over at once. Every replica also
// serves the control queue (periodic submissions).
func (s *Scheduler) Run(ctx context.Context) error {
	ctl, err := s.periodic.startControl()
	if err != nil {
		return err
	}
	if ctl != nil {
		defer ctl.Shutdown()
	}
	e := &elector{
		lease:  s.lease,
		ttl:    s.cfg.LeaseTTL,
		duties: []func(context.Context){s.sweeper.run, s.periodic.run},
		log:    s.log,
		onChange: func(leading bool) {
			s.leader.Store(leading)
			s.m.leader.Set(0)
			if leading {
				s.m.leader.Set(1)
			}
		},
	}
	e.run(ctx)
	return nil
}

// Sweep repairs what crashes left behind: it finishes submissions whose
// submitter died (older than Config.ResumeAfter), and re-dispatches the
// running tasks of dead workers (a worker is dead when its advertisement
// expired). Only the leader calls it periodically; calling it from anywhere
// is safe (every repair is a compare-and-set script).
func (s *Scheduler) Sweep(ctx context.Context) error { return s.sweeper.sweep(ctx) }
