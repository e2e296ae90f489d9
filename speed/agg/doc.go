// Package agg owns the in-memory side of one partition: it turns the messages
// of a partition, in stream order, into view deltas since the last flush, and
// keeps the partition's progress (offset, per-producer highest seq, event-time
// watermark) with which duplicates and late events are told apart. It does no
// I/O: package store writes a Partition's pending deltas and progress to Redis
// atomically, and a refused or failed flush simply discards the Partition.
//
// The decisions are deterministic functions of the committed progress and the
// stream's messages, so whichever worker resumes a partition from its committed
// offset makes the same decisions: that is what makes the views exact.
package agg
