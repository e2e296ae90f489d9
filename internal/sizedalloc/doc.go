// Package sizedalloc owns a memory.Allocator for arrow-go that keeps freed
// buffers by power-of-two size class for reuse. Batch workers compute one
// segment after another, and on this kind of VM the first touch of fresh
// memory (a page fault, ~3 ms per MB) costs more than the decoding or
// encoding done in it; unlike a sync.Pool, the kept buffers survive garbage
// collections.
package sizedalloc
