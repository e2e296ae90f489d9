// Package archive owns the master data set's writer, `tributary archive`:
// it consumes every partition's stream queue with offsets of its own (apart
// from the speed layer's) and writes immutable Parquet segments (package
// segment) into a segment store (package segstore).
//
// Per partition it buffers the events of the messages after the committed
// offset, dropping duplicates by (producer, seq) against per-producer
// high-water seqs, and quarantining malformed messages (a metric, a reason,
// never a stop). Every SegmentEvents events or SegmentInterval it cuts a
// segment named after the offset range [committed+1, last] and
//
//  1. writes it to the store (temporary name, fsync, rename, fsync dir; or an
//     object store's atomic upload), then
//  2. commits, in one Lua script: the new offset, the producers' seqs, the
//     highest event time ("complete up to"), the totals, and the segment's
//     name in the partition's committed list. The script refuses if the
//     committed offset is not the one the archiver resumed from, so a stale
//     second archiver changes nothing.
//
// A crash between 1 and 2 leaves a file that no committed list names; the
// restarted archiver consumes again from committed+1 and writes that range
// again, under the same name when it cuts at the same offset. No event is lost
// or stored twice. Readers take the list of segments from Redis (State), never
// from a listing of the store.
package archive
