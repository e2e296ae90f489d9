// Package membership owns who processes which partition: membership of the
// workers of one role (heartbeats in a Redis zset scored by expiry, judged
// by Redis's own clock so that workers' clocks do not matter) and the fair
// assignment of partitions to live workers that every worker computes
// identically. Two roles use it, each with its own zset: the speed layer's
// workers and the archivers. The partition leases themselves, with their
// fencing tokens, are internal/lease's; what protects the data is that every
// write (the speed flush, the archive commit) checks the lease value inside
// the same Lua script that writes.
package membership
