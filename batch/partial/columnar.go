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

// FirstHour is the first hour of the events added (Unix seconds), 0 if
// none; call it before Encode.
func (c *Columnar) FirstHour() int64 {
	if len(c.hours) == 0 {
		return 0
	}
	return slices.Min(c.hours)
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
	order, rank, ok := c.rankCodes()
	if !ok {
		return false
	}
	n := len(c.delays)
	if n == 0 {
		for vi := range c.views {
			w.table(vi, 0)
		}
		return true
	}
	l, ok := c.keyLayout()
	if !ok {
		return false
	}
	// Codes to ranks, in place.
	for i := range c.orig {
		c.orig[i] = rank[c.orig[i]]
		c.dest[i] = rank[c.dest[i]]
	}
	c.kbuf, c.tmp = grow(c.kbuf, n), grow(c.tmp, n)
	var sc rowScratch
	for vi, v := range c.views {
		keys := c.sortKeys(v, l)
		var dkeys []uint64
		if v.DistinctDestinations {
			dkeys = c.sortDestinations(v, l, keys)
		}
		c.encodeRuns(w.table(vi, countBuckets(keys, l.db)), v, l, order, keys, dkeys, &sc)
	}
	return true
}

// rankCodes ranks the airport codes in string order: order[r] is the id of
// rank r, rank[id] its rank. ok is false when a code holds a byte at or
// below '-': a route "O-D" sorts like the pair (O, D) only without such
// bytes (valid codes are [A-Z0-9]{3,4}).
func (c *Columnar) rankCodes() (order, rank []uint32, ok bool) {
	order = make([]uint32, len(c.names))
	for i := range order {
		order[i] = uint32(i)
	}
	slices.SortFunc(order, func(a, b uint32) int {
		if c.names[a] < c.names[b] {
			return -1
		}
		return 1
	})
	rank = make([]uint32, len(c.names))
	for r, id := range order {
		rank[id] = uint32(r)
		for j := 0; j < len(c.names[id]); j++ {
			if c.names[id][j] <= '-' {
				return nil, nil, false
			}
		}
	}
	return order, rank, true
}

// layout is how an event is packed into a uint64 sort key, group | hour |
// delay (group = origin rank, or origin and destination ranks): hours and
// delays as offsets from their minimum, in hb and db bits; a code rank in ab.
type layout struct {
	hmin       int64
	dmin       int32
	hb, db, ab uint
}

// keyLayout sizes the key's fields from the events; ok is false when a
// route key would not fit in 64 bits.
func (c *Columnar) keyLayout() (layout, bool) {
	hmin, hmax := slices.Min(c.hours), slices.Max(c.hours)
	dmin, dmax := slices.Min(c.delays), slices.Max(c.delays)
	l := layout{
		hmin: hmin,
		dmin: dmin,
		hb:   bitsFor(uint64(hmax-hmin) / 3600),
		db:   bitsFor(uint64(int64(dmax) - int64(dmin))),
		ab:   bitsFor(uint64(max(len(c.names)-1, 0))),
	}
	return l, 2*l.ab+l.hb+max(l.db, l.ab) <= 64
}

// groupBits is the width of v's group field.
func (l layout) groupBits(v flight.View) uint {
	if v.Dim == flight.ByRoute {
		return 2 * l.ab
	}
	return l.ab
}

// groupHour is event i's key prefix group | hour, for view v (codes are
// ranks by then).
func (c *Columnar) groupHour(v flight.View, l layout, i int) uint64 {
	g := uint64(c.orig[i])
	if v.Dim == flight.ByRoute {
		g = g<<l.ab | uint64(c.dest[i])
	}
	return g<<l.hb | uint64(c.hours[i]-l.hmin)/3600
}

// sortKeys fills kbuf with every event's key group | hour | delay for view
// v and radix-sorts them; the result lives in kbuf or tmp.
func (c *Columnar) sortKeys(v flight.View, l layout) []uint64 {
	kbuf := c.kbuf
	for i := range kbuf {
		kbuf[i] = c.groupHour(v, l, i)<<l.db | uint64(int64(c.delays[i])-int64(l.dmin))
	}
	return radixSort(kbuf, c.tmp, l.groupBits(v)+l.hb+l.db)
}

// sortDestinations returns the sorted distinct keys group | hour |
// destination of view v, sorted in dbuf and whichever of kbuf and tmp does
// not hold keys.
func (c *Columnar) sortDestinations(v flight.View, l layout, keys []uint64) []uint64 {
	n := len(keys)
	c.dbuf = grow(c.dbuf, n)
	dbuf := c.dbuf
	for i := 0; i < n; i++ {
		dbuf[i] = c.groupHour(v, l, i)<<l.ab | uint64(c.dest[i])
	}
	other := c.tmp
	if &keys[0] == &c.tmp[0] {
		other = c.kbuf
	}
	return slices.Compact(radixSort(dbuf, other, l.groupBits(v)+l.hb+l.ab))
}

// countBuckets is the number of distinct key prefixes group | hour among
// the sorted keys.
func countBuckets(keys []uint64, db uint) int {
	rows := 0
	for i := range keys {
		if i == 0 || keys[i]>>db != keys[i-1]>>db {
			rows++
		}
	}
	return rows
}

// rowScratch holds one output row's histogram and destinations, reused
// from row to row.
type rowScratch struct {
	hd []int32
	hc []int64
	ds []string
}

// encodeRuns appends one row per run of equal group | hour in the sorted
// keys to t: the run's statistics and histogram, and its destinations from
// the sorted distinct dkeys.
func (c *Columnar) encodeRuns(t *tableBuilder, v flight.View, l layout, order []uint32, keys, dkeys []uint64, sc *rowScratch) {
	lastGroup := ^uint64(0)
	var group string
	dpos := 0
	amask := uint64(1)<<l.ab - 1
	for i, n := 0, len(keys); i < n; {
		bk := keys[i] >> l.db
		j := i
		for j < n && keys[j]>>l.db == bk {
			j++
		}
		if g := bk >> l.hb; g != lastGroup {
			lastGroup = g
			if v.Dim == flight.ByRoute {
				group = c.names[order[g>>l.ab]] + "-" + c.names[order[g&amask]]
			} else {
				group = c.names[order[g]]
			}
		}
		hour := l.hmin + int64(bk&(uint64(1)<<l.hb-1))*3600
		s := sc.histogram(keys[i:j], l)
		sc.ds = sc.ds[:0]
		if v.DistinctDestinations {
			for dpos < len(dkeys) && dkeys[dpos]>>l.ab == bk {
				sc.ds = append(sc.ds, c.names[order[dkeys[dpos]&amask]])
				dpos++
			}
		}
		t.append(group, hour, s, sc.hd, sc.hc, sc.ds)
		i = j
	}
}

// histogram computes the statistics of one bucket's run of sorted keys and
// its histogram (delays and counts) into sc.hd and sc.hc, left empty for
// two flights or fewer (their min and max say it all).
func (sc *rowScratch) histogram(run []uint64, l layout) flight.Stats {
	dmask := uint64(1)<<l.db - 1
	var s flight.Stats
	s.Count = int64(len(run))
	s.Min = int32(int64(run[0]&dmask) + int64(l.dmin))
	s.Max = int32(int64(run[len(run)-1]&dmask) + int64(l.dmin))
	sc.hd, sc.hc = sc.hd[:0], sc.hc[:0]
	for k := 0; k < len(run); {
		dv := run[k] & dmask
		m := k + 1
		for m < len(run) && run[m]&dmask == dv {
			m++
		}
		d := int32(int64(dv) + int64(l.dmin))
		cnt := int64(m - k)
		s.Sum += int64(d) * cnt
		if d >= flight.DelayedMinutes {
			s.Delayed += cnt
		}
		sc.hd = append(sc.hd, d)
		sc.hc = append(sc.hc, cnt)
		k = m
	}
	if s.Count <= 2 {
		sc.hd, sc.hc = sc.hd[:0], sc.hc[:0]
	}
	return s
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
