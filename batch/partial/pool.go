package partial

import (
	"sync"

	"github.com/tributary-dev/tributary/internal/sizedalloc"
)

// freeList keeps up to freeMax values for reuse. Unlike a sync.Pool it is
// not emptied by garbage collections: a worker computes one aggregate after
// another, with a collection or two in between, and on this kind of VM the
// first touch of fresh memory (a page fault, ~3 ms per MB) costs more than
// the computation it holds.
type freeList[T any] struct {
	mu    sync.Mutex
	items []T
}

const freeMax = 8

func (f *freeList[T]) get() (T, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var zero T
	if len(f.items) == 0 {
		return zero, false
	}
	x := f.items[len(f.items)-1]
	f.items[len(f.items)-1] = zero
	f.items = f.items[:len(f.items)-1]
	return x, true
}

func (f *freeList[T]) put(x T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.items) < freeMax {
		f.items = append(f.items, x)
	}
}

// ipcAlloc is the allocator of the IPC writer of aggregates: it allocates the
// buffers that every compressed body buffer is written into, which the
// writer frees once the record batch is written. Kept by size class for the
// next aggregates, they cost neither zeroing, page faults nor garbage
// collection; the writer writes every byte it keeps, so they are not zeroed.
var ipcAlloc = sizedalloc.New(false, freeMax*4, 64<<20)
