// Package speed owns the speed layer's worker: it keeps the real-time views
// (flight.Views(), bucketed per group and hour of event time) in Redis,
// exactly once across crashes and rebalancing.
//
// Any number of workers share the P partitions. Each worker heartbeats into a
// membership zset and computes the same fair assignment of partitions to live
// workers (package membership); it takes the lease of each partition assigned to it
// (package internal/lease: a Redis key with a TTL and a fencing token from a
// per-partition counter),
// hands over (last flush, then release) the partitions no longer assigned to
// it, and drops at once a partition whose lease it finds lost.
//
// For each partition it owns, a worker consumes the stream queue from the
// committed offset + 1 (package ingest/stream), aggregates in memory (package agg:
// per-producer seq dedup, event-time watermark for late events, quarantine of
// malformed messages) and flushes every FlushInterval, or earlier when many
// buckets are pending: the view deltas, the new offset, the producers' highest
// seqs, the watermark's max event time, the counters and the quarantined
// messages go to Redis in one Lua script that first checks the lease, the
// fencing token and the expected previous offset (package store). A refused or
// failed flush drops the partition's in-memory state; whoever owns it next
// resumes from the committed offset, so every event counts exactly once.
//
// The worker's loop (worker.go) runs one round every LeaseTTL/5 of duties
// that each have their own file, type and tests: heartbeat.go, assignment.go,
// renewal.go, handover.go, acquisition.go, lag.go and coverage.go (the
// TTL of the keys of hours the batch layer covers, Config.Covered, in the
// partitions held: the speed layer expires its own keys); each owned partition
// runs as a partition (partition.go). Config.Clock drives the rounds and the
// flushes, so tests advance them by hand (internal/clock).
//
// The Redis key layout is documented in package keyspace; the read API is
// store.Reader.
package speed
