package flight

import "math/bits"

// BucketHash is a 64-bit hash of one bucket's canonical content, the same
// in both layers: the group, the Stats, the DelaySketch's non-empty bins in
// increasing order with their counts, and the distinct destinations in
// increasing order (none for views that do not count them). The hour and
// the view are not hashed: an HourDigest is kept per (view, hour).
//
// The speed layer computes it from the buckets it writes, the batch layer
// from its exact rows (each delay's bin, SketchBin, and the exact sets): the
// two agree exactly when the speed bucket is the sketch of the batch
// bucket's events. It is not cryptographic: it detects accidental
// differences (a lost, duplicated or wrong event), not forged ones.
//
// Feed it in this order: NewBucketHash (group and stats), Bin for every
// non-empty bin by increasing bin, Dest for every destination in increasing
// order, then Sum. Every bin and destination is tagged and the strings
// carry their length, so two different contents are two different word
// sequences.
type BucketHash struct {
	h uint64
}

// Primes of xxHash64, whose avalanche Sum is.
const (
	prime1 uint64 = 11400714785074694791
	prime2 uint64 = 14029467366897019727
	prime3 uint64 = 1609587929392839161
	prime5 uint64 = 2870177450012600261
)

// Tags start the words of a bin and of a destination (and of the group),
// so that no content's word sequence is another's.
const (
	tagGroup uint64 = 0x67 << 56
	tagBin   uint64 = 0x62 << 56
	tagDest  uint64 = 0x64 << 56
)

// NewBucketHash starts the hash of a bucket of group with stats st.
func NewBucketHash(group string, st Stats) BucketHash {
	h := BucketHash{h: prime5}
	h.str(tagGroup, group)
	h.word(uint64(st.Count))
	h.word(uint64(st.Sum))
	h.word(uint64(st.Delayed))
	h.word(uint64(uint32(st.Min))<<32 | uint64(uint32(st.Max)))
	return h
}

// Bin adds one non-empty bin and its count; bins come in increasing order.
func (h *BucketHash) Bin(bin int32, n int64) {
	h.word(tagBin | uint64(uint32(bin)))
	h.word(uint64(n))
}

// Dest adds one destination; destinations come in increasing order.
func (h *BucketHash) Dest(d string) { h.str(tagDest, d) }

// Sum is the bucket's hash. It is never 0 in practice; 0 stands for "no
// bucket" in an HourDigest's arithmetic.
func (h BucketHash) Sum() uint64 {
	x := h.h
	x ^= x >> 33
	x *= prime2
	x ^= x >> 29
	x *= prime3
	x ^= x >> 32
	return x
}

// word mixes one 64-bit word in: w's product is off the chain of h, which
// takes one xor, one rotation and one multiplication per word (Sum's
// avalanche spreads the last words' bits).
func (h *BucketHash) word(w uint64) {
	h.h = bits.RotateLeft64(h.h^(w*prime2), 31) * prime1
}

// str mixes a tagged length, then the bytes 8 at a time (the last word
// zero-padded: the length tells the padding from content).
func (h *BucketHash) str(tag uint64, s string) {
	h.word(tag | uint64(len(s)))
	for ; len(s) >= 8; s = s[8:] {
		h.word(uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56)
	}
	if len(s) > 0 {
		var w uint64
		for i := len(s) - 1; i >= 0; i-- {
			w = w<<8 | uint64(s[i])
		}
		h.word(w)
	}
}

// Hash is BucketHash over a SketchedBucket (its bins and destinations are
// in increasing order already).
func (b *SketchedBucket) Hash(group string) uint64 {
	h := NewBucketHash(group, b.Stats)
	for _, x := range b.Bins {
		h.Bin(x.Bin, x.N)
	}
	for _, d := range b.Dests {
		h.Dest(d)
	}
	return h.Sum()
}

// HourDigest is the digest of every bucket of one view in one hour: the sum
// modulo 2^64 of their BucketHash. A sum does not depend on the order of
// the buckets nor on how they are split (the speed layer keeps one digest
// per partition's hour hash; their sum is the hour's), and a bucket's change
// updates it in O(1): subtract its old hash, add its new one. Two hours
// whose buckets differ in any way have the same digest with probability
// about 2^-64.
type HourDigest struct {
	Hour int64 // Unix seconds of the hour's start
	Sum  uint64
	// Buckets is the number of buckets the hour holds: counted apart from
	// the digest (by the speed layer, the fields of its hashes), so that a
	// bucket lost or added behind the digest's back shows too.
	Buckets int64
	// Present says that the speed layer has buckets in that hour (some
	// partition's hash of it exists).
	Present bool
	// Complete says that every partition's hash of the hour carries its
	// digest: hashes written before the digest existed do not, and an hour
	// that is not Complete must be compared bucket by bucket.
	Complete bool
}
