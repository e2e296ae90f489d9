package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

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

// unpack decodes a packed bucket, adding its stats and bins to stats and
// sketch and its destinations to dests when dests is not nil.
func unpack(p []byte, stats *flight.Stats, sketch *flight.DelaySketch, dests map[string]struct{}) error {
	var add func([]byte)
	if dests != nil {
		add = func(d []byte) { dests[string(d)] = struct{}{} }
	}
	return unpackTo(p, stats, sketch, add)
}

// unpackTo is unpack calling addDest, when not nil, with every destination
// (in the sorted order pack wrote them; the bytes are p's).
func unpackTo(p []byte, stats *flight.Stats, sketch *flight.DelaySketch, addDest func([]byte)) error {
	if len(p) == 0 || p[0] != packedVersion {
		return fmt.Errorf("%w: version", errPacked)
	}
	p = p[1:]
	varint := func() (int64, error) {
		v, n := binary.Varint(p)
		if n <= 0 {
			return 0, errPacked
		}
		p = p[n:]
		return v, nil
	}
	uvarint := func() (uint64, error) {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			return 0, errPacked
		}
		p = p[n:]
		return v, nil
	}
	var f [5]int64
	for i := range f {
		v, err := varint()
		if err != nil {
			return fmt.Errorf("%w: stats", err)
		}
		f[i] = v
	}
	stats.Merge(flight.Stats{Count: f[0], Sum: f[1], Delayed: f[2], Min: int32(f[3]), Max: int32(f[4])})
	nb, err := uvarint()
	if err != nil {
		return fmt.Errorf("%w: bins", err)
	}
	bin := int64(0)
	for range nb {
		d, err1 := varint()
		n, err2 := uvarint()
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("%w: bin", errPacked)
		}
		bin += d
		sketch.AddBin(int32(bin), int64(n))
	}
	nd, err := uvarint()
	if err != nil {
		return fmt.Errorf("%w: destinations", err)
	}
	for range nd {
		l, err := uvarint()
		if err != nil || uint64(len(p)) < l {
			return fmt.Errorf("%w: destination", errPacked)
		}
		if addDest != nil {
			addDest(p[:l])
		}
		p = p[l:]
	}
	if len(p) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", errPacked, len(p))
	}
	return nil
}
