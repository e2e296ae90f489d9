package speed

import (
	"sync"
	"sync/atomic"

	"github.com/tributary-dev/tributary/internal/lease"
)

// run is the worker's handle on one owned partition's goroutine.
type run struct {
	part     int
	grant    lease.Grant
	stop     chan struct{} // hand over: last flush, release
	abort    chan struct{} // lease lost: drop everything
	stopOnce sync.Once
	abrtOnce sync.Once
	done     chan struct{}
	consumed atomic.Int64 // last offset taken in, for the lag
	// stopping is set by the hand-over: the partition releases its lease
	// itself, so renewal leaves it alone. Only the worker's loop touches it.
	stopping bool
}

func newRun(p int, g lease.Grant) *run {
	r := &run{part: p, grant: g, stop: make(chan struct{}), abort: make(chan struct{}), done: make(chan struct{})}
	r.consumed.Store(-1)
	return r
}

func (r *run) handOver() { r.stopOnce.Do(func() { close(r.stop) }) }
func (r *run) drop()     { r.abrtOnce.Do(func() { close(r.abort) }) }

func (r *run) finished() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// runs are the partitions a worker owns, by partition. Only the worker's loop
// touches the map.
type runs map[int]*run
