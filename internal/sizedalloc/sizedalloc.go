package sizedalloc

import (
	"math/bits"
	"sync"
)

const (
	minClass = 12 // 4 KiB: smaller buffers are left to make
	maxClass = 26 // 64 MiB: larger ones are not kept
)

// Allocator is a memory.Allocator keeping freed buffers by size class. It is
// safe for concurrent use.
type Allocator struct {
	zero     bool
	perClass int
	maxBytes int

	mu    sync.Mutex
	free  [maxClass + 1][][]byte
	bytes int
}

// New returns an allocator keeping at most perClass buffers of each class
// and maxBytes in all. With zero, buffers are zeroed when handed out, like
// make's; without, the caller must write every byte it keeps (arrow's IPC
// writer does).
func New(zero bool, perClass, maxBytes int) *Allocator {
	return &Allocator{zero: zero, perClass: perClass, maxBytes: maxBytes}
}

// Allocate returns a buffer of size bytes.
func (a *Allocator) Allocate(size int) []byte {
	c := bits.Len(uint(size - 1))
	if size < 1<<minClass || c > maxClass {
		return make([]byte, size)
	}
	a.mu.Lock()
	var b []byte
	if l := a.free[c]; len(l) > 0 {
		b = l[len(l)-1]
		l[len(l)-1] = nil
		a.free[c] = l[:len(l)-1]
		a.bytes -= cap(b)
	}
	a.mu.Unlock()
	if b == nil {
		return make([]byte, size, 1<<c)
	}
	b = b[:size]
	if a.zero {
		clear(b)
	}
	return b
}

// Reallocate resizes b, in place when its capacity allows.
func (a *Allocator) Reallocate(size int, b []byte) []byte {
	if size <= cap(b) {
		old := len(b)
		b = b[:size]
		if a.zero && size > old {
			clear(b[old:])
		}
		return b
	}
	nb := a.Allocate(size)
	copy(nb, b)
	a.Free(b)
	return nb
}

// Free keeps b for reuse if it is one of the allocator's size classes.
func (a *Allocator) Free(b []byte) {
	c := bits.Len(uint(cap(b))) - 1
	if c < minClass || c > maxClass || cap(b) != 1<<c {
		return // not one of ours
	}
	a.mu.Lock()
	if len(a.free[c]) < a.perClass && a.bytes+cap(b) <= a.maxBytes {
		a.free[c] = append(a.free[c], b[:0])
		a.bytes += cap(b)
	}
	a.mu.Unlock()
}
