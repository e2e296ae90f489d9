package segment

import (
	"math/bits"
	"sync"
)

// poolAllocator is the memory.Allocator of ScanFlights: it keeps the
// buffers that the Parquet reader frees, by power-of-two size class, for
// the next batches and segments. A worker reads one segment after another,
// and on this kind of VM the first touch of fresh memory (a page fault,
// ~3 ms per MB) costs more than decoding into it. Buffers are zeroed when
// handed out, like make's.
type poolAllocator struct {
	mu   sync.Mutex
	free [40][][]byte
}

const (
	poolMinClass = 12 // 4 KiB: smaller buffers are left to make
	poolMaxClass = 26 // 64 MiB: larger ones are not kept
	poolPerClass = 16
)

var segAlloc = &poolAllocator{}

func sizeClass(n int) int { return bits.Len(uint(n - 1)) }

func (p *poolAllocator) Allocate(size int) []byte {
	c := sizeClass(size)
	if size < 1<<poolMinClass || c > poolMaxClass {
		return make([]byte, size)
	}
	p.mu.Lock()
	var b []byte
	if l := p.free[c]; len(l) > 0 {
		b = l[len(l)-1]
		l[len(l)-1] = nil
		p.free[c] = l[:len(l)-1]
	}
	p.mu.Unlock()
	if b == nil {
		return make([]byte, size, 1<<c)
	}
	b = b[:size]
	clear(b)
	return b
}

func (p *poolAllocator) Reallocate(size int, b []byte) []byte {
	if size <= cap(b) {
		old := len(b)
		b = b[:size]
		if size > old {
			clear(b[old:])
		}
		return b
	}
	nb := p.Allocate(size)
	copy(nb, b)
	p.Free(b)
	return nb
}

func (p *poolAllocator) Free(b []byte) {
	c := bits.Len(uint(cap(b))) - 1
	if c < poolMinClass || c > poolMaxClass || cap(b) != 1<<c {
		return // not one of ours
	}
	p.mu.Lock()
	if len(p.free[c]) < poolPerClass {
		p.free[c] = append(p.free[c], b[:0])
	}
	p.mu.Unlock()
}
