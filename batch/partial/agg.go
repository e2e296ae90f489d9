package partial

import (
	"cmp"
	"slices"
	"strings"

	"github.com/tributary-dev/tributary/flight"
)

// Key names a bucket within one view.
type Key struct {
	Group string
	Hour  int64
}

// Bucket is one bucket under construction.
type Bucket struct {
	Stats flight.Stats
	Hist  map[int32]int64
	Dests map[string]struct{}
}

// Builder aggregates events into every view. Not safe for concurrent use.
type Builder struct {
	views   []flight.View
	buckets []map[Key]*Bucket
	events  int64
}

// NewBuilder returns an empty aggregate of views.
func NewBuilder(views []flight.View) *Builder {
	b := &Builder{views: views, buckets: make([]map[Key]*Bucket, len(views))}
	for i := range views {
		b.buckets[i] = make(map[Key]*Bucket)
	}
	return b
}

// Events is the number of events added.
func (b *Builder) Events() int64 { return b.events }

// Add adds one flight, given by the fields the views read.
func (b *Builder) Add(timeMicros int64, origin, destination string, delay int32) {
	b.events++
	hour := flight.Hour(timeMicros)
	e := flight.Event{Origin: origin, Destination: destination}
	for vi, v := range b.views {
		k := Key{Group: v.Key(&e), Hour: hour}
		bk := b.buckets[vi][k]
		if bk == nil {
			bk = &Bucket{Hist: make(map[int32]int64, 2)}
			if v.DistinctDestinations {
				bk.Dests = make(map[string]struct{}, 4)
			}
			b.buckets[vi][k] = bk
		}
		bk.Stats.Add(delay)
		bk.Hist[delay]++
		if bk.Dests != nil {
			bk.Dests[destination] = struct{}{}
		}
	}
}

// Encode returns the aggregate as Arrow IPC (see the package doc).
func (b *Builder) Encode() ([]byte, error) {
	w := newWriter(b.views)
	for vi := range b.views {
		keys := make([]Key, 0, len(b.buckets[vi]))
		for k := range b.buckets[vi] {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, compareKeys)
		t := w.table(vi, len(keys))
		var hd []int32
		var hc []int64
		var ds []string
		for _, k := range keys {
			bk := b.buckets[vi][k]
			hd, hc = hd[:0], hc[:0]
			if bk.Stats.Count > 2 {
				for d := range bk.Hist {
					hd = append(hd, d)
				}
				slices.Sort(hd)
				for _, d := range hd {
					hc = append(hc, bk.Hist[d])
				}
			}
			ds = ds[:0]
			for d := range bk.Dests {
				ds = append(ds, d)
			}
			slices.Sort(ds)
			t.append(k.Group, k.Hour, bk.Stats, hd, hc, ds)
		}
	}
	return w.finish()
}

func compareKeys(a, b Key) int {
	if c := strings.Compare(a.Group, b.Group); c != 0 {
		return c
	}
	return cmp.Compare(a.Hour, b.Hour)
}
