package sizedalloc

import "testing"

func TestReuseAndZeroing(t *testing.T) {
	tests := []struct {
		name string
		zero bool
	}{{"zeroing", true}, {"raw", false}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New(tt.zero, 4, 1<<30)
			b := a.Allocate(5000)
			if len(b) != 5000 || cap(b) != 8192 {
				t.Fatalf("len %d cap %d, want 5000 and the 8 KiB class", len(b), cap(b))
			}
			for i := range b {
				b[i] = 0xff
			}
			a.Free(b)
			again := a.Allocate(6000)
			if &again[0] != &b[0] {
				t.Fatal("a freed buffer of the same class was not reused")
			}
			if got := again[10] == 0; got != tt.zero {
				t.Fatalf("reused buffer zeroed = %v, want %v", got, tt.zero)
			}
			if small := a.Allocate(100); cap(small) != 100 {
				t.Fatalf("a small buffer came from a class: cap %d", cap(small))
			}
		})
	}
	a := New(true, 1, 8192)
	x, y := a.Allocate(8000), a.Allocate(8000)
	a.Free(x)
	a.Free(y) // over perClass and maxBytes: dropped
	if a.bytes != 8192 || len(a.free[13]) != 1 {
		t.Fatalf("kept %d bytes in %d buffers, want one of 8 KiB", a.bytes, len(a.free[13]))
	}
}
