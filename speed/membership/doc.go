// Package membership owns who processes which partition of the speed layer:
// worker membership (heartbeats in a Redis zset scored by expiry, judged by
// Redis's own clock so that workers' clocks do not matter) and the fair
// assignment of partitions to live workers that every worker computes
// identically. The partition leases themselves, with their fencing tokens,
// are internal/lease's; what protects the views is that every flush checks
// the lease value inside the same Lua script that writes (package store).
package membership
