package agg

import (
	"math/bits"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/tributary-dev/tributary/flight"
)

// Columnar aggregates a segment's columns into every view without a map
// entry per bucket: airport codes become small integer ids (ranked in string
// order), every event becomes one uint64 sort key per view, (group rank,
// hour offset, delay offset), radix-sorted, and the sorted keys are
// run-length-encoded straight into the output rows (a run of equal keys is
// one histogram entry, a run of equal key prefixes one bucket). Its output is
// byte for byte the one of Builder for the same events. Not safe for
// concurrent use.
type Columnar struct {
	views  []flight.View
	ids    map[string]uint32
	names  []string
	orig   []uint32
	dest   []uint32
	hours  []int64
	delays []int32
	// fallback is set when an event cannot be keyed (never for valid events):
	// the events are then aggregated by Builder.
	fallback bool
}

// NewColumnar returns an empty columnar aggregate of views.
func NewColumnar(views []flight.View) *Columnar {
	return &Columnar{views: views, ids: make(map[string]uint32, 512)}
}

// StringColumn is what Columnar reads of a string column.
type StringColumn interface {
	Len() int
	Value(int) string
}

// Events is the number of events added.
func (c *Columnar) Events() int64 { return int64(len(c.delays)) }

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
}

// Encode returns the aggregate as Arrow IPC (see the package doc).
func (c *Columnar) Encode() ([]byte, error) {
	out, _, err := c.EncodeRows()
	return out, err
}

// EncodeRows is Encode that also returns the number of rows (buckets of
// every view).
func (c *Columnar) EncodeRows() ([]byte, int64, error) {
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
	// Per-event parts, ranked.
	or := make([]uint64, n)
	de := make([]uint64, n)
	hr := make([]uint64, n)
	for i := 0; i < n; i++ {
		or[i] = uint64(rank[c.orig[i]])
		de[i] = uint64(rank[c.dest[i]])
		hr[i] = uint64(c.hours[i]-hmin) / 3600
	}
	kbuf, tmp := make([]uint64, n), make([]uint64, n)
	var dbuf []uint64
	var hd []int32
	var hc []int64
	var ds []string
	var groupNames []string
	for vi, v := range c.views {
		// key = group | hour | delay, group = origin or (origin, dest).
		gb := ab
		if v.Dim == flight.ByRoute {
			gb = 2 * ab
		}
		for i := 0; i < n; i++ {
			g := or[i]
			if v.Dim == flight.ByRoute {
				g = g<<ab | de[i]
			}
			kbuf[i] = (g<<hb|hr[i])<<db | uint64(int64(c.delays[i])-int64(dmin))
		}
		keys := radixSort(kbuf, tmp, gb+hb+db)
		var dkeys []uint64
		// Distinct destinations: sorted distinct (group, hour, dest).
		if v.DistinctDestinations {
			if dbuf == nil {
				dbuf = make([]uint64, n)
			}
			for i := 0; i < n; i++ {
				g := or[i]
				if v.Dim == flight.ByRoute {
					g = g<<ab | de[i]
				}
				dbuf[i] = (g<<hb|hr[i])<<ab | de[i]
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
		groupNames = groupNames[:0]
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

// radixSort sorts keys whose values fit in nbits bits (LSD, 11-bit digits,
// skipping digits that are the same in every key); tmp has keys' length.
// It returns the sorted slice, keys or tmp.
func radixSort(keys, tmp []uint64, nbits uint) []uint64 {
	const digit = 11
	const buckets = 1 << digit
	var count [buckets]int
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
