package partial

import (
	"fmt"
	"math/bits"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/tributary-dev/tributary/flight"
)

// Columnar aggregates a segment's columns into every view without a map
// entry per bucket: airport codes become small integer ids (ranked in string
// order), every event becomes one uint64 sort key per view, (group rank,
// hour offset, delay offset), radix-sorted, and the sorted keys are
// run-length-encoded straight into the output rows (a run of equal keys is
// one histogram entry, a run of equal key prefixes one bucket). It encodes
// the same rows as Builder for the same events, and falls back to Builder
// when they cannot be keyed in 64 bits or a code would not sort like its
// routes (neither happens with valid airport codes). Not safe for
// concurrent use.
type Columnar struct {
	views  []flight.View
	ids    map[string]uint32
	names  []string
	events int64
	*colBufs
}

// NewColumnar returns an empty columnar aggregate of views.
func NewColumnar(views []flight.View) *Columnar {
	return &Columnar{views: views, ids: make(map[string]uint32, 512), colBufs: getColBufs()}
}

// colBufs are the per-event buffers of a Columnar, reused across segments
// (a worker computes one partial after another): fresh memory costs page
// faults, and the garbage collector's work.
type colBufs struct {
	orig, dest      []uint32
	hours           []int64
	delays          []int32
	kbuf, tmp, dbuf []uint64
}

var colPool freeList[*colBufs]

func getColBufs() *colBufs {
	if b, ok := colPool.get(); ok {
		b.orig, b.dest, b.hours, b.delays = b.orig[:0], b.dest[:0], b.hours[:0], b.delays[:0]
		return b
	}
	return &colBufs{}
}

// grow returns a slice of length n, s's array when large enough, with
// undefined content.
func grow[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n, n+n/4)
}

// StringColumn is what Columnar reads of a string column.
type StringColumn interface {
	Len() int
	Value(int) string
}

// Events is the number of events added.
func (c *Columnar) Events() int64 { return c.events }

func (c *Columnar) id(s string) uint32 {
	if id, ok := c.ids[s]; ok {
		return id
	}
	id := uint32(len(c.names))
	s = string([]byte(s)) // own copy: s points into an Arrow buffer
	c.ids[s] = id
	c.names = append(c.names, s)
	return id
}

// AddColumns adds n events given by their columns.
func (c *Columnar) AddColumns(n int, ts []arrow.Timestamp, origin, destination StringColumn, delay []int32) {
	var lastO, lastD string
	var lo, ld uint32
	haveO, haveD := false, false
	for i := 0; i < n; i++ {
		o, d := origin.Value(i), destination.Value(i)
		if !haveO || o != lastO {
			lo, lastO, haveO = c.id(o), o, true
		}
		if !haveD || d != lastD {
			ld, lastD, haveD = c.id(d), d, true
		}
		c.orig = append(c.orig, lo)
		c.dest = append(c.dest, ld)
		c.hours = append(c.hours, flight.Hour(int64(ts[i])))
	}
	c.delays = append(c.delays, delay[:n]...)
	c.events += int64(n)
}

// AddDictionaries adds n events whose airport codes are dictionary arrays
// of strings (what a Parquet segment holds): each dictionary entry is looked
// up once, each event is an index.
func (c *Columnar) AddDictionaries(n int, ts []arrow.Timestamp, origin, destination *array.Dictionary, delay []int32) error {
	var ids [2][]uint32
	for k, col := range []*array.Dictionary{origin, destination} {
		dict, ok := col.Dictionary().(StringColumn)
		if !ok {
			return fmt.Errorf("airport codes: dictionary of %s", col.Dictionary().DataType())
		}
		ids[k] = make([]uint32, dict.Len())
		for j := range ids[k] {
			ids[k][j] = c.id(dict.Value(j))
		}
	}
	at := len(c.orig)
	c.orig, c.dest = slices.Grow(c.orig, n)[:at+n], slices.Grow(c.dest, n)[:at+n]
	if err := mapIndices(c.orig[at:], origin.Indices(), ids[0]); err != nil {
		return err
	}
	if err := mapIndices(c.dest[at:], destination.Indices(), ids[1]); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		c.hours = append(c.hours, flight.Hour(int64(ts[i])))
	}
	c.delays = append(c.delays, delay[:n]...)
	c.events += int64(n)
	return nil
}

func mapIndices(dst []uint32, idx arrow.Array, ids []uint32) error {
	switch a := idx.(type) {
	case *array.Int32:
		for i, x := range a.Int32Values()[:len(dst)] {
			dst[i] = ids[x]
		}
	case *array.Int16:
		for i, x := range a.Int16Values()[:len(dst)] {
			dst[i] = ids[x]
		}
	case *array.Int8:
		for i, x := range a.Int8Values()[:len(dst)] {
			dst[i] = ids[x]
		}
	case *array.Int64:
		for i, x := range a.Int64Values()[:len(dst)] {
			dst[i] = ids[x]
		}
	default:
		return fmt.Errorf("airport codes: dictionary indices of %s", idx.DataType())
	}
	return nil
}

// Encode returns the aggregate as Arrow IPC (see the package doc). The
// Columnar cannot be used afterwards.
func (c *Columnar) Encode() ([]byte, error) {
	out, _, err := c.EncodeRows()
	return out, err
}

// EncodeRows is Encode that also returns the number of rows (buckets of
// every view).
func (c *Columnar) EncodeRows() ([]byte, int64, error) {
	defer func() {
		if cap(c.orig) <= 4*maxPooledRows {
			colPool.put(c.colBufs)
		}
		c.colBufs = nil
	}()
	w := newWriter(c.views)
	if !c.encode(w) {
		w.discard()
		out, err := c.builderFallback()
		if err != nil {
			return nil, 0, err
		}
		a, err := Decode(out)
		if err != nil {
			return nil, 0, err
		}
		return out, a.Rows(), nil
	}
	return w.finishRows()
}

// builderFallback aggregates the events with Builder.
func (c *Columnar) builderFallback() ([]byte, error) {
	b := NewBuilder(c.views)
	for i := range c.delays {
		b.Add(c.hours[i]*1e6, c.names[c.orig[i]], c.names[c.dest[i]], c.delays[i])
	}
	return b.Encode()
}

func bitsFor(n uint64) uint {
	return uint(bits.Len64(n))
}

// encode writes every view's table into w; false when the events cannot
// be keyed in 64 bits or codes would not sort like their routes.
func (c *Columnar) encode(w *writer) bool {
	n := len(c.delays)
	// Rank the codes in string order.
	order := make([]uint32, len(c.names))
	for i := range order {
		order[i] = uint32(i)
	}
	slices.SortFunc(order, func(a, b uint32) int {
		if c.names[a] < c.names[b] {
			return -1
		}
		return 1
	})
	rank := make([]uint32, len(c.names))
	for r, id := range order {
		rank[id] = uint32(r)
		// A route "O-D" sorts like the pair (O, D) when no code has a byte
		// at or below '-'; valid codes are [A-Z0-9]{3,4}.
		for j := 0; j < len(c.names[id]); j++ {
			if c.names[id][j] <= '-' {
				return false
			}
		}
	}
	if n == 0 {
		for vi := range c.views {
			w.table(vi, 0)
		}
		return true
	}
	hmin, hmax := slices.Min(c.hours), slices.Max(c.hours)
	dmin, dmax := slices.Min(c.delays), slices.Max(c.delays)
	hb := bitsFor(uint64(hmax-hmin) / 3600)
	db := bitsFor(uint64(int64(dmax) - int64(dmin)))
	ab := bitsFor(uint64(max(len(c.names)-1, 0)))
	if 2*ab+hb+max(db, ab) > 64 {
		return false
	}
	// Codes to ranks, in place.
	for i := range c.orig {
		c.orig[i] = rank[c.orig[i]]
		c.dest[i] = rank[c.dest[i]]
	}
	or, de := c.orig, c.dest
	hr := func(i int) uint64 { return uint64(c.hours[i]-hmin) / 3600 }
	c.kbuf, c.tmp = grow(c.kbuf, n), grow(c.tmp, n)
	kbuf, tmp := c.kbuf, c.tmp
	var hd []int32
	var hc []int64
	var ds []string
	for vi, v := range c.views {
		// key = group | hour | delay, group = origin or (origin, dest).
		gb := ab
		if v.Dim == flight.ByRoute {
			gb = 2 * ab
		}
		for i := 0; i < n; i++ {
			g := uint64(or[i])
			if v.Dim == flight.ByRoute {
				g = g<<ab | uint64(de[i])
			}
			kbuf[i] = (g<<hb|hr(i))<<db | uint64(int64(c.delays[i])-int64(dmin))
		}
		keys := radixSort(kbuf, tmp, gb+hb+db)
		var dkeys []uint64
		// Distinct destinations: sorted distinct (group, hour, dest).
		if v.DistinctDestinations {
			c.dbuf = grow(c.dbuf, n)
			dbuf := c.dbuf
			for i := 0; i < n; i++ {
				g := uint64(or[i])
				if v.Dim == flight.ByRoute {
					g = g<<ab | uint64(de[i])
				}
				dbuf[i] = (g<<hb|hr(i))<<ab | uint64(de[i])
			}
			// keys lives in kbuf or tmp: sort in the other and dbuf.
			other := tmp
			if &keys[0] == &tmp[0] {
				other = kbuf
			}
			dkeys = radixSort(dbuf, other, gb+hb+ab)
			dkeys = slices.Compact(dkeys)
		}
		// Count the buckets.
		rows := 0
		for i := 0; i < n; i++ {
			if i == 0 || keys[i]>>db != keys[i-1]>>db {
				rows++
			}
		}
		t := w.table(vi, rows)
		lastGroup := ^uint64(0)
		var group string
		dpos := 0
		amask := uint64(1)<<ab - 1
		for i := 0; i < n; {
			bk := keys[i] >> db
			j := i
			for j < n && keys[j]>>db == bk {
				j++
			}
			g := bk >> hb
			if g != lastGroup {
				lastGroup = g
				if v.Dim == flight.ByRoute {
					group = c.names[order[g>>ab]] + "-" + c.names[order[g&amask]]
				} else {
					group = c.names[order[g]]
				}
			}
			hour := hmin + int64(bk&(uint64(1)<<hb-1))*3600
			dmask := uint64(1)<<db - 1
			var s flight.Stats
			s.Count = int64(j - i)
			s.Min = int32(int64(keys[i]&dmask) + int64(dmin))
			s.Max = int32(int64(keys[j-1]&dmask) + int64(dmin))
			hd, hc = hd[:0], hc[:0]
			for k := i; k < j; {
				dv := keys[k] & dmask
				m := k + 1
				for m < j && keys[m]&dmask == dv {
					m++
				}
				d := int32(int64(dv) + int64(dmin))
				cnt := int64(m - k)
				s.Sum += int64(d) * cnt
				if d >= flight.DelayedMinutes {
					s.Delayed += cnt
				}
				hd = append(hd, d)
				hc = append(hc, cnt)
				k = m
			}
			if s.Count <= 2 {
				hd, hc = hd[:0], hc[:0]
			}
			ds = ds[:0]
			if v.DistinctDestinations {
				for dpos < len(dkeys) && dkeys[dpos]>>ab == bk {
					ds = append(ds, c.names[order[dkeys[dpos]&amask]])
					dpos++
				}
			}
			t.append(group, hour, s, hd, hc, ds)
			i = j
		}
	}
	return true
}

// radixMaxDigit bounds the digits of radixSort: with up to 13 bits (8,192
// counters, in L2) rather than 11, the route keys (~38 bits) take a pass
// less.
const radixMaxDigit = 13

// radixSort sorts keys whose values fit in nbits bits (LSD, digits of equal
// width, at most radixMaxDigit bits, skipping digits that are the same in
// every key); tmp has keys' length. It returns the sorted slice, keys or tmp.
func radixSort(keys, tmp []uint64, nbits uint) []uint64 {
	if nbits == 0 || len(keys) == 0 {
		return keys
	}
	var countArr [1 << radixMaxDigit]int
	passes := (nbits + radixMaxDigit - 1) / radixMaxDigit
	digit := (nbits + passes - 1) / passes
	buckets := uint64(1) << digit
	count := countArr[:buckets]
	src, dst := keys, tmp
	for shift := uint(0); shift < nbits; shift += digit {
		clear(count[:])
		for _, k := range src {
			count[(k>>shift)&(buckets-1)]++
		}
		if count[(src[0]>>shift)&(buckets-1)] == len(src) {
			continue
		}
		pos := 0
		for i, c := range count {
			count[i] = pos
			pos += c
		}
		for _, k := range src {
			b := (k >> shift) & (buckets - 1)
			dst[count[b]] = k
			count[b]++
		}
		src, dst = dst, src
	}
	return src
}
