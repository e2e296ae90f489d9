package agg

import (
	"math/bits"
	"sync"
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

// ipcAllocator is the memory.Allocator of the IPC writer of aggregates: it
// allocates the buffers that every compressed body buffer is written into
// (the bound of its compressed size, then shrunk to the written size), which
// the writer frees once the record batch is written. Kept by power-of-two
// size class for the next aggregates, they cost neither zeroing, page faults
// nor garbage collection; a shrink keeps the array. Unlike make's, the bytes
// handed out are not zeroed: the writer writes every byte it keeps.
type ipcAllocator struct {
	mu    sync.Mutex
	free  [ipcMaxClass + 1][][]byte
	bytes int
}

const (
	ipcMinClass = 12       // 4 KiB: smaller buffers are left to make
	ipcMaxClass = 26       // 64 MiB: larger ones are not kept
	ipcMaxBytes = 64 << 20 // kept in all
)

var ipcAlloc = &ipcAllocator{}

func (p *ipcAllocator) Allocate(size int) []byte {
	c := bits.Len(uint(size - 1))
	if size < 1<<ipcMinClass || c > ipcMaxClass {
		return make([]byte, size)
	}
	p.mu.Lock()
	var b []byte
	if l := p.free[c]; len(l) > 0 {
		b = l[len(l)-1]
		l[len(l)-1] = nil
		p.free[c] = l[:len(l)-1]
		p.bytes -= cap(b)
	}
	p.mu.Unlock()
	if b == nil {
		return make([]byte, size, 1<<c)
	}
	return b[:size]
}

func (p *ipcAllocator) Reallocate(size int, b []byte) []byte {
	if size <= cap(b) {
		return b[:size]
	}
	nb := p.Allocate(size)
	copy(nb, b)
	p.Free(b)
	return nb
}

func (p *ipcAllocator) Free(b []byte) {
	c := bits.Len(uint(cap(b))) - 1
	if c < ipcMinClass || c > ipcMaxClass || cap(b) != 1<<c {
		return // not one of ours
	}
	p.mu.Lock()
	if len(p.free[c]) < freeMax*4 && p.bytes+cap(b) <= ipcMaxBytes {
		p.free[c] = append(p.free[c], b[:0])
		p.bytes += cap(b)
	}
	p.mu.Unlock()
}
