package dedup

import "maps"

// Seqs is each producer's highest admitted seq. Not safe for concurrent use.
type Seqs struct {
	seqs    map[string]uint64
	changed map[string]struct{}
}

// New starts from committed seqs (copied).
func New(committed map[string]uint64) *Seqs {
	s := &Seqs{seqs: make(map[string]uint64, len(committed)), changed: map[string]struct{}{}}
	maps.Copy(s.seqs, committed)
	return s
}

// Admit reports whether an event of producer with seq is new, and records its
// seq if so. Seq 0 means "no seq": always admitted, never recorded.
func (s *Seqs) Admit(producer string, seq uint64) bool {
	if seq == 0 {
		return true
	}
	if seq <= s.seqs[producer] {
		return false
	}
	s.seqs[producer] = seq
	s.changed[producer] = struct{}{}
	return true
}

// Changed returns the producers whose highest seq changed since the last
// Committed, with that seq: what the next commit must write.
func (s *Seqs) Changed() map[string]uint64 {
	out := make(map[string]uint64, len(s.changed))
	for p := range s.changed {
		out[p] = s.seqs[p]
	}
	return out
}

// Committed records that the changed seqs were written.
func (s *Seqs) Committed() { clear(s.changed) }
