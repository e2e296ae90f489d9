// Package lease owns Redis leases: a key holding its holder's value with a PX
// TTL, taken when free, renewed and released only by the holder that still
// holds exactly that value (compare-and-set scripts, embedded beside their
// caller). It serves two users with one set of scripts:
//
//   - the scheduler's leader election (New, TryAcquire, Release, Holder): the
//     key holds the replica's id;
//   - the speed layer's partition leases (Acquire with a fence key, Renew,
//     Release): the key holds "<owner>|<token>", where the token comes from a
//     per-partition counter that only grows, so a newer holder always has a
//     larger token and the speed layer's flush script can refuse a writer
//     whose lease expired or was taken over.
//
// Judging expiry is Redis's job (PX), so holders' clocks do not matter.
package lease
