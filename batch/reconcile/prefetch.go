package reconcile

import (
	"context"
	"fmt"
	"slices"

	"github.com/tributary-dev/tributary/flight"
)

// prefetchHours is the span of one read of the speed digests made while the
// batch view loads, before the first hour to reconcile is known.
const prefetchHours = 256

// prefetchIdle is the number of reads without any speed hour after which
// the prefetch waits for the first hour instead of reading further back.
const prefetchIdle = 2

// speedDigests reads the speed layer's digests of every view while the
// batch view loads: the first hour to reconcile (the view's first hour on a
// first reconciliation) is only known once the view is loaded, but the last
// one is the boundary, so each view's reader walks back from the boundary,
// prefetchHours at a time, until it is told its first hour (start, or
// startView for one view: the views load one after the other), then
// reads what remains of [from, boundary) at once. It stops early, waiting
// for the first hour, after prefetchIdle reads that found no speed hour,
// so that a load slower than the reads does not read years of empty hours;
// the hours read below the first hour are dropped. Reading them during the
// load, rather than during the batch digest pass, takes the ~140,000
// pipelined commands of 3,000,000 flights off the critical path.
type speedDigests struct {
	ctx      context.Context
	speed    SpeedReader
	boundary int64
	from     []int64 // per view, set before fromSet[i] is closed
	fromSet  []chan struct{}
	views    []flight.View
	done     []chan struct{}
	res      [][]flight.HourDigest
	errs     []error
}

// prefetchSpeed starts the readers of every view of flight.Views(); ctx
// ends them (the caller cancels it when it returns).
func prefetchSpeed(ctx context.Context, speed SpeedReader, boundary int64) *speedDigests {
	return prefetchSpeedWith(ctx, speed, boundary, func(*speedDigests) {})
}

// prefetchSpeedWith is prefetchSpeed calling before(p) before it starts the
// readers (tests).
func prefetchSpeedWith(ctx context.Context, speed SpeedReader, boundary int64, before func(*speedDigests)) *speedDigests {
	p := &speedDigests{ctx: ctx, speed: speed, boundary: boundary, views: flight.Views()}
	p.from = make([]int64, len(p.views))
	p.fromSet = make([]chan struct{}, len(p.views))
	for i := range p.fromSet {
		p.fromSet[i] = make(chan struct{})
	}
	before(p)
	p.done = make([]chan struct{}, len(p.views))
	p.res = make([][]flight.HourDigest, len(p.views))
	p.errs = make([]error, len(p.views))
	for i := range p.views {
		p.done[i] = make(chan struct{})
		go func() {
			defer close(p.done[i])
			p.res[i], p.errs[i] = p.read(i)
		}()
	}
	return p
}

// start tells every reader the first hour to reconcile; once only, and
// not with startView.
func (p *speedDigests) start(from int64) {
	for i := range p.views {
		p.startView(i, from)
	}
}

// startView tells the reader of the view of index i of flight.Views() its
// first hour; once per view.
func (p *speedDigests) startView(i int, from int64) {
	p.from[i] = from
	close(p.fromSet[i])
}

// read reads the digests of [from, boundary) of the view of index vi, in
// increasing hour.
func (p *speedDigests) read(vi int) ([]flight.HourDigest, error) {
	view := p.views[vi].Name
	var chunks [][]flight.HourDigest // in decreasing hours
	hi, idle := p.boundary, 0
	for {
		known := false
		if idle >= prefetchIdle {
			select {
			case <-p.fromSet[vi]:
				known = true
			case <-p.ctx.Done():
				return nil, p.ctx.Err()
			}
		} else {
			select {
			case <-p.fromSet[vi]:
				known = true
			default:
			}
		}
		lo := hi - prefetchHours*3600
		if known {
			lo = p.from[vi]
		}
		if lo < hi {
			ds, err := p.speed.HourDigests(p.ctx, view, lo, hi)
			if err != nil {
				return nil, err
			}
			chunks = append(chunks, ds)
			if slices.ContainsFunc(ds, func(d flight.HourDigest) bool { return d.Present }) {
				idle = 0
			} else {
				idle++
			}
			hi = lo
		}
		if known {
			break
		}
	}
	var out []flight.HourDigest
	for _, c := range slices.Backward(chunks) {
		for _, d := range c {
			if d.Hour >= p.from[vi] {
				out = append(out, d)
			}
		}
	}
	return out, nil
}

// wait returns the digests of the view of index i of flight.Views() over the
// nh hours from its first hour (start or startView must have been called),
// checked.
func (p *speedDigests) wait(i, nh int) ([]flight.HourDigest, error) {
	select {
	case <-p.done[i]:
	case <-p.ctx.Done():
		return nil, p.ctx.Err()
	}
	if p.errs[i] != nil {
		return nil, p.errs[i]
	}
	return checkDigests(p.res[i], p.views[i].Name, p.from[i], nh)
}

// checkDigests checks that ds are a view's digests of the nh hours from
// `from`, in order.
func checkDigests(ds []flight.HourDigest, name string, from int64, nh int) ([]flight.HourDigest, error) {
	if len(ds) != nh {
		return nil, fmt.Errorf("reconcile: the speed reader returned %d digests of %s for %d hours", len(ds), name, nh)
	}
	for h, d := range ds {
		if d.Hour != from+int64(h)*3600 {
			return nil, fmt.Errorf("reconcile: the speed reader returned the digest of hour %d for hour %d", d.Hour, from+int64(h)*3600)
		}
	}
	return ds, nil
}
