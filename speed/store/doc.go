// Package store owns the speed layer's writes to and reads from Redis (key
// layout in package keyspace): the flush script that applies one partition's
// deltas and progress atomically behind its fencing token, the load of a
// partition's committed progress, and the Reader that the tests and the
// serving layer use.
//
// A flush is one EVALSHA (one round trip). The script first checks that the
// lease is still "<worker>|<token>", that no later token has written, and that
// the partition's committed offset is the one the writer resumed from; only
// then does it write anything. So a worker that lost its lease, or that is
// behind a newer writer, changes nothing: its flush is refused.
//
// A bucket is one field of its hour hash holding the bucket packed (pack's
// layout, packed.go); one function, unpack, decodes it for every reader and
// for the flush's merge. The Reader reads buckets in three ways:
//
//   - by group, one HMGET per partition's hour hash for the groups it holds
//     (readHashes): Sums, Hourly and SumDistinct, the serving path, add each
//     bucket straight into its group's sum (no quantiles); Buckets reads
//     single hours by ref with their quantiles and destination count (the
//     chaos check and the tests);
//   - whole hour hashes: ScanHours, the reconciliation's bulk read, into one
//     reused flight.SketchedBucket;
//   - no bucket at all: Groups and GroupsByHour (HKEYS), HourDigests.
//
// Each hour hash also holds the reserved field keyspace.FieldDigest, the
// sum of its buckets' hashes: the readers of whole hashes (ScanHours,
// Groups, GroupsByHour) skip it, HourDigests reads it, and no group (an
// airport or a route) has its name.
package store
