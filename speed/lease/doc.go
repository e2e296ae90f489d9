// Package lease owns who processes which partition: worker membership
// (heartbeats in a Redis zset scored by expiry, judged by Redis's own clock so
// workers' clocks do not matter), the fair assignment of partitions to live
// workers that every worker computes identically, and per-partition leases
// with fencing tokens.
//
// A lease is a key holding "<worker>|<token>" with a PX TTL. The token comes
// from a per-partition counter that only grows, so a newer owner always holds
// a larger token. The lease is only advisory for reading; what protects the
// views is that every flush checks the lease value inside the same Lua script
// that writes (package store): a worker whose lease expired or was taken over
// can no longer write anything.
package lease
