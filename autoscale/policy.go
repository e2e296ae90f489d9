package autoscale

import (
	"fmt"
	"math"
	"time"
)

// Kind names a worker pool.
type Kind string

// The pools the autoscaler sizes.
const (
	Speed Kind = "speed"
	Batch Kind = "batch"
)

// Policy sizes one pool.
type Policy struct {
	// Min and Max bound the pool (Min >= 0, Max >= Min). For speed workers
	// Max beyond the number of partitions buys nothing: a partition has one
	// consumer at a time.
	Min, Max int
	// Target is the load one worker is meant to carry (messages of lag for
	// speed, queued tasks for batch): the wanted size is ceil(load/Target).
	Target float64
	// DownBelow (0 < DownBelow < 1) is the hysteresis: the pool shrinks only
	// when the load would stay under DownBelow*Target per worker after the
	// shrink, for the whole of DownAfter. Without it a load near a threshold
	// would add and remove a worker at every tick.
	DownBelow float64
	// DownAfter is how long the load must have been low before a shrink.
	DownAfter time.Duration
	// Cooldown is the least time between two resizes of the pool: a new
	// worker needs time to take partitions and bring the lag down before
	// the lag says anything about its effect.
	Cooldown time.Duration
	// MaxStep bounds the workers added at once (0: no bound); a shrink is
	// always one worker, so that partitions hand over one worker at a time.
	MaxStep int
}

// Validate reports a policy that cannot work.
func (p Policy) Validate() error {
	switch {
	case p.Min < 0 || p.Max < p.Min || p.Max == 0:
		return fmt.Errorf("autoscale: bounds min %d max %d: need 0 <= min <= max, max > 0", p.Min, p.Max)
	case p.Target <= 0:
		return fmt.Errorf("autoscale: target %v: must be > 0", p.Target)
	case p.DownBelow <= 0 || p.DownBelow >= 1:
		return fmt.Errorf("autoscale: down-below %v: must be in (0, 1)", p.DownBelow)
	case p.Cooldown < 0 || p.DownAfter < 0 || p.MaxStep < 0:
		return fmt.Errorf("autoscale: negative cooldown, down-after or step")
	}
	return nil
}

// Sample is one reading of a pool's load.
type Sample struct {
	At   time.Time
	Load float64
}

// State is what the policy decides from.
type State struct {
	Now     time.Time
	Current int
	// History holds the samples, oldest first; the last one is the newest.
	History []Sample
	// LastResize is when the pool was last resized (zero: never).
	LastResize time.Time
}

// Decision is the policy's answer.
type Decision struct {
	Desired int
	// Reason says why, for the logs and the decision counter's label:
	// "up", "down", "bounds", "cooldown", "hold", "no-data".
	Reason string
}

// Changes reports whether the decision resizes a pool of cur workers.
func (d Decision) Changes(cur int) bool { return d.Desired != cur }

// want is the pool size that carries load at Target per worker, in bounds.
func (p Policy) want(load float64) int {
	return clamp(int(math.Ceil(load/p.Target)), p.Min, p.Max)
}

func clamp(n, lo, hi int) int { return max(lo, min(hi, n)) }

// Decide returns the size of the pool. It is a pure function of the policy
// and the state, so that the tests can replay a history with a fake clock.
func Decide(p Policy, s State) Decision {
	// Out of bounds (someone resized by hand, or the bounds changed): back
	// into them at once, cooldown or not.
	if s.Current < p.Min || s.Current > p.Max {
		return Decision{Desired: clamp(s.Current, p.Min, p.Max), Reason: "bounds"}
	}
	if len(s.History) == 0 {
		return Decision{Desired: s.Current, Reason: "no-data"}
	}
	if !s.LastResize.IsZero() && s.Now.Sub(s.LastResize) < p.Cooldown {
		return Decision{Desired: s.Current, Reason: "cooldown"}
	}
	last := s.History[len(s.History)-1].Load
	if w := p.want(last); w > s.Current {
		if p.MaxStep > 0 {
			w = min(w, s.Current+p.MaxStep)
		}
		return Decision{Desired: w, Reason: "up"}
	}
	if s.Current <= p.Min {
		return Decision{Desired: s.Current, Reason: "hold"}
	}
	// Shrink by one only if every sample of the last DownAfter would have
	// been under DownBelow*Target per worker with one worker less, and the
	// history covers the whole of DownAfter (a fresh leader knows nothing).
	smaller := float64(s.Current - 1)
	since := s.Now.Add(-p.DownAfter)
	if s.History[0].At.After(since) {
		return Decision{Desired: s.Current, Reason: "hold"}
	}
	for _, h := range s.History {
		if h.At.Before(since) {
			continue
		}
		if h.Load > p.DownBelow*p.Target*smaller {
			return Decision{Desired: s.Current, Reason: "hold"}
		}
	}
	return Decision{Desired: s.Current - 1, Reason: "down"}
}
