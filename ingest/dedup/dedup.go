package dedup

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Window is how far below a producer's highest seq a missing seq is still
// awaited: seqs older than that count as seen. It exceeds the replayer's
// in-flight window (512 messages of at most 1,000 events, over all
// partitions), the furthest a republished event can land behind later ones.
const Window = 1 << 20

// MaxGaps bounds the missing ranges kept per producer (the oldest go first),
// so that a producer whose seqs are not contiguous per partition costs a
// bounded state.
const MaxGaps = 256

// Range is the seqs Lo..Hi, both included.
type Range struct{ Lo, Hi uint64 }

// Mark is what a consumer committed for one producer: the highest seq it
// admitted, and the seqs below it that it has not seen yet (sorted,
// disjoint, not adjacent).
type Mark struct {
	High uint64
	Gaps []Range
}

// String encodes m as stored beside the offsets: "HIGH" or
// "HIGH LO-HI,LO-HI,...". A plain number (the format before gaps) parses
// as a mark without gaps.
func (m Mark) String() string {
	if len(m.Gaps) == 0 {
		return strconv.FormatUint(m.High, 10)
	}
	var b strings.Builder
	b.WriteString(strconv.FormatUint(m.High, 10))
	for i, g := range m.Gaps {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(g.Lo, 10))
		b.WriteByte('-')
		b.WriteString(strconv.FormatUint(g.Hi, 10))
	}
	return b.String()
}

// ErrMark is returned by ParseMark for a value it cannot read.
var ErrMark = errors.New("malformed dedup mark")

// ParseMark reads what Mark.String wrote.
func ParseMark(s string) (Mark, error) {
	high, gaps, hasGaps := strings.Cut(s, " ")
	h, err := strconv.ParseUint(high, 10, 64)
	if err != nil {
		return Mark{}, fmt.Errorf("%w %q: %w", ErrMark, s, err)
	}
	m := Mark{High: h}
	if !hasGaps {
		return m, nil
	}
	prev := uint64(0)
	for _, r := range strings.Split(gaps, ",") {
		lo, hi, ok := strings.Cut(r, "-")
		l, err1 := strconv.ParseUint(lo, 10, 64)
		u, err2 := strconv.ParseUint(hi, 10, 64)
		if !ok || err1 != nil || err2 != nil || l == 0 || l > u || u >= h || (len(m.Gaps) > 0 && l <= prev+1) {
			return Mark{}, fmt.Errorf("%w %q: range %q", ErrMark, s, r)
		}
		m.Gaps = append(m.Gaps, Range{l, u})
		prev = u
	}
	return m, nil
}

// Seqs is each producer's mark. Not safe for concurrent use.
type Seqs struct {
	marks   map[string]*Mark
	changed map[string]struct{}
	evicted uint64
	// The last producer classified, its mark, and whether it is in
	// changed: a message's events mostly come from one producer, and two
	// map operations per event were a tenth of the speed worker's
	// aggregation.
	lastProducer string
	last         *Mark
	lastChanged  bool
}

// New starts from committed marks (copied).
func New(committed map[string]Mark) *Seqs {
	s := &Seqs{marks: make(map[string]*Mark, len(committed)), changed: map[string]struct{}{}}
	for p, m := range committed {
		s.marks[p] = &Mark{High: m.High, Gaps: append([]Range(nil), m.Gaps...)}
	}
	return s
}

// Admission is what Classify decided about one seq.
type Admission int

const (
	// Duplicate: the seq was admitted before (or given up, see Evicted).
	Duplicate Admission = iota
	// InOrder: the seq is above its producer's highest, or 0 (no seq).
	InOrder
	// Refill: the seq was in a gap below its producer's highest seq: the
	// producer sent it before seqs already admitted, and it arrives after
	// them only because it was delayed or sent again (a publisher
	// re-publishing what a failed broker never confirmed).
	Refill
)

// Admit reports whether an event of producer with seq is new, and records its
// seq if so. Seq 0 means "no seq": always admitted, never recorded. A seq
// above the highest opens a gap for the seqs it skips; a seq in a gap is
// admitted once and leaves it.
func (s *Seqs) Admit(producer string, seq uint64) bool {
	return s.Classify(producer, seq) != Duplicate
}

// Classify is Admit, also saying whether an admitted seq came in its
// producer's order (InOrder) or filled a gap (Refill).
func (s *Seqs) Classify(producer string, seq uint64) Admission {
	if seq == 0 {
		return InOrder
	}
	m := s.last
	if m == nil || producer != s.lastProducer {
		m = s.marks[producer]
		if m == nil {
			m = &Mark{}
			s.marks[producer] = m
		}
		s.lastProducer, s.last = producer, m
		_, s.lastChanged = s.changed[producer]
	}
	verdict := InOrder
	switch {
	case seq > m.High:
		if seq > m.High+1 {
			m.Gaps = append(m.Gaps, Range{m.High + 1, seq - 1})
		}
		m.High = seq
		s.bound(m)
	default:
		i := sort.Search(len(m.Gaps), func(i int) bool { return m.Gaps[i].Hi >= seq })
		if i == len(m.Gaps) || m.Gaps[i].Lo > seq {
			return Duplicate
		}
		verdict = Refill
		g := m.Gaps[i]
		switch {
		case g.Lo == g.Hi:
			m.Gaps = append(m.Gaps[:i], m.Gaps[i+1:]...)
		case seq == g.Lo:
			m.Gaps[i].Lo++
		case seq == g.Hi:
			m.Gaps[i].Hi--
		default:
			m.Gaps = append(m.Gaps[:i+1], m.Gaps[i:]...)
			m.Gaps[i] = Range{g.Lo, seq - 1}
			m.Gaps[i+1] = Range{seq + 1, g.Hi}
			s.bound(m)
		}
	}
	if !s.lastChanged {
		s.changed[producer] = struct{}{}
		s.lastChanged = true
	}
	return verdict
}

// bound drops the seqs of m's gaps older than Window below its highest seq
// and, past MaxGaps ranges, the oldest ranges.
func (s *Seqs) bound(m *Mark) {
	if m.High > Window {
		floor := m.High - Window
		n := 0
		for n < len(m.Gaps) && m.Gaps[n].Hi < floor {
			s.evicted += m.Gaps[n].Hi - m.Gaps[n].Lo + 1
			n++
		}
		m.Gaps = m.Gaps[n:]
		if len(m.Gaps) > 0 && m.Gaps[0].Lo < floor {
			s.evicted += floor - m.Gaps[0].Lo
			m.Gaps[0].Lo = floor
		}
	}
	for len(m.Gaps) > MaxGaps {
		s.evicted += m.Gaps[0].Hi - m.Gaps[0].Lo + 1
		m.Gaps = m.Gaps[1:]
	}
}

// Evicted is how many awaited seqs were given up (they fell out of Window or
// MaxGaps) since New: had they arrived later, they would have been dropped.
func (s *Seqs) Evicted() uint64 { return s.evicted }

// Changed returns the producers whose mark changed since the last
// Committed, with that mark (a copy): what the next commit must write.
func (s *Seqs) Changed() map[string]Mark {
	out := make(map[string]Mark, len(s.changed))
	for p := range s.changed {
		m := s.marks[p]
		out[p] = Mark{High: m.High, Gaps: append([]Range(nil), m.Gaps...)}
	}
	return out
}

// Committed records that the changed marks were written.
func (s *Seqs) Committed() { clear(s.changed); s.lastChanged = false }
