package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"unsafe"

	"github.com/tributary-dev/tributary/flight"
)

// packedVersion starts every packed bucket, so that a future layout can be
// told apart.
const packedVersion = 1

var errPacked = errors.New("malformed packed bucket")

// state is one bucket's absolute content: what its packed field holds.
type state struct {
	stats  flight.Stats
	sketch flight.DelaySketch
	// dests are the distinct destinations, sorted as pack writes them (a
	// flush packs every bucket it touches: sorting a set each time cost
	// more than keeping it sorted); empty for views that do not count them.
	dests []string
}

// addDest adds a destination to s's sorted set.
func (s *state) addDest(d string) {
	if n := len(s.dests); n == 0 || s.dests[n-1] < d {
		s.dests = append(s.dests, d) // in order: as a packed bucket is read
		return
	}
	if i, found := slices.BinarySearch(s.dests, d); !found {
		s.dests = slices.Insert(s.dests, i, d)
	}
}

// pack encodes s, appending to buf:
//
//	version, count, sum, delayed, min, max (varints), nbins, then per bin in
//	increasing order the bin (varint delta from the previous) and its count,
//	then ndests and each destination (length, bytes) in sorted order.
func (s *state) pack(buf []byte) []byte {
	buf = append(buf, packedVersion)
	st := s.stats
	for _, v := range []int64{st.Count, st.Sum, st.Delayed, int64(st.Min), int64(st.Max)} {
		buf = binary.AppendVarint(buf, v)
	}
	buf = binary.AppendUvarint(buf, uint64(s.sketch.Len()))
	prev := int32(0)
	s.sketch.Each(func(bin int32, n int64) {
		buf = binary.AppendVarint(buf, int64(bin-prev))
		buf = binary.AppendUvarint(buf, uint64(n))
		prev = bin
	})
	buf = binary.AppendUvarint(buf, uint64(len(s.dests)))
	for _, d := range s.dests {
		buf = binary.AppendUvarint(buf, uint64(len(d)))
		buf = append(buf, d...)
	}
	return buf
}

// unpack decodes a packed bucket (pack's layout): it returns its stats,
// adds its bins to sketch and calls addDest, when not nil, with every
// destination in the sorted order pack wrote them. It is the one decoder of
// the speed views' values: the serving sums, Buckets, ScanHours and the
// flush's merge all read through it.
//
// p is read in place (no copy): the destinations handed to addDest are
// substrings of p, valid as long as the caller keeps them.
func unpack(p string, sketch *flight.DelaySketch, addDest func(string)) (flight.Stats, error) {
	buf := unsafe.Slice(unsafe.StringData(p), len(p)) // read only
	if len(buf) == 0 || buf[0] != packedVersion {
		return flight.Stats{}, fmt.Errorf("%w: version", errPacked)
	}
	at := 1
	varint := func() (int64, bool) {
		v, n := binary.Varint(buf[at:])
		at += max(n, 0)
		return v, n > 0
	}
	uvarint := func() (uint64, bool) {
		v, n := binary.Uvarint(buf[at:])
		at += max(n, 0)
		return v, n > 0
	}
	var f [5]int64
	for i := range f {
		v, ok := varint()
		if !ok {
			return flight.Stats{}, fmt.Errorf("%w: stats", errPacked)
		}
		f[i] = v
	}
	nb, ok := uvarint()
	if !ok {
		return flight.Stats{}, fmt.Errorf("%w: bins", errPacked)
	}
	bin := int64(0)
	for range nb {
		d, ok1 := varint()
		n, ok2 := uvarint()
		if !ok1 || !ok2 {
			return flight.Stats{}, fmt.Errorf("%w: bin", errPacked)
		}
		bin += d
		sketch.AddBin(int32(bin), int64(n))
	}
	nd, ok := uvarint()
	if !ok {
		return flight.Stats{}, fmt.Errorf("%w: destinations", errPacked)
	}
	for range nd {
		l, ok := uvarint()
		if !ok || uint64(len(buf)-at) < l {
			return flight.Stats{}, fmt.Errorf("%w: destination", errPacked)
		}
		if addDest != nil {
			addDest(p[at : at+int(l)])
		}
		at += int(l)
	}
	if at != len(buf) {
		return flight.Stats{}, fmt.Errorf("%w: %d trailing bytes", errPacked, len(buf)-at)
	}
	return flight.Stats{Count: f[0], Sum: f[1], Delayed: f[2], Min: int32(f[3]), Max: int32(f[4])}, nil
}

// addPacked adds a packed bucket to b: its stats and sketch, and its
// destinations to addDest when not nil (see unpack).
func addPacked(b *flight.Summary, p string, addDest func(string)) error {
	st, err := unpack(p, &b.Sketch, addDest)
	if err != nil {
		return err
	}
	b.Stats.Merge(st)
	return nil
}
