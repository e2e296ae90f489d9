// Package reconcile owns the check that the speed layer is right: after each
// publication, it compares the speed views with the exact batch views over the
// hours that the new version newly covers, records the differences in Redis
// (B:reconcile) with the hours it covers and the batch run's grace
// (Report.To, GraceMS), and exports them as metrics (Collector). The speed
// layer, which owns its keys, gives the speed buckets of those hours a TTL
// of the grace once it sees that report (Covered, which speed's coverage
// duty calls): the batch view answers for them now, and no speed key goes
// before the reconciliation that reads it is done. (Until session 12 the
// reconciliation gave those TTLs itself: 68,480 keys for 3,000,000 flights,
// a third of Redis's work while `batch run --wait` waited.)
//
// It knows nothing of the speed layer's keys: it reads through the
// SpeedReader interface it defines, which the speed layer implements
// (speed/store.Reader) and the process wiring (cmd/tributary) passes in. The types they exchange are the
// domain's (flight.SketchedBucket), so the batch layer imports no speed
// package.
//
// It loads and walks one view at a time (view.LoadViews: every node is
// read, only that view's record batches decoded): airport_hour is loaded,
// compared and released, then route_hour, so that the process holds the
// largest view's Arrow buffers (226 of the 333 MB of the whole view for
// 3,000,000 flights), not every view's, and its collector does not run flat
// out under the worker's 400 MiB memory limit. (Both views at once, even as
// two tasks, landed in one worker and ran slower there: measured in
// docs/benchmarks-batch.md.) A first reconciliation starts at the version's
// first hour, which the recompute's nodes record and the publication
// passes on (Config.FirstHour). Without it (nodes memoized by an older
// build), each view is compared from its own first hour, known once it is
// loaded, then a view that starts later than another is compared over the
// hours in between against no batch bucket (its speed buckets there are
// extra), so the report covers [From, To) for every view.
//
// It compares two views of the same buckets, so it first compares a digest
// of each (view, hour): the speed layer keeps, in a reserved field of every
// partition's hour hash, the sum modulo 2^64 of its buckets'
// flight.BucketHash (a 64-bit hash of the group, the stats, the sketch's
// bins and the sorted destinations), written by the partition's fenced
// owner in the same script call as the buckets, so exactly once like them
// (speed/store). The speed digests and bucket counts of every hour are read
// (SpeedReader.HourDigests: an HGET and an HLEN per hour hash, run by a
// script per partition) while the batch view loads, from the first hour
// to the boundary. Then the workers, GOMAXPROCS blocks of
// groups at a time, walk the loaded view's rows group by group, once over
// the whole range, to compute the same digests: each delay's
// flight.SketchBin, the exact sets of destinations. An hour whose digest and number of buckets
// agree holds, bucket for bucket, the sketch of the batch view's exact
// events: its counts and stats agree, its distinct destinations are the
// same sets, and its percentiles' errors are those of the sketch of the
// exact events, which the same walk computes from the rows alone (CPU, no
// Redis). Only the other hours are compared bucket by bucket as before
// (compareHours, in chunks of at most chunkHours, GOMAXPROCS at once): a
// digest that differs, or a hash without one (written by a speed layer
// before digests: never taken for a match). The report counts both kinds of
// hours (HoursByDigest, HoursCompared). The percentiles' error over the
// hours settled by digest is computed from the batch rows alone: since the
// digests agree, the speed buckets are the sketch of those rows' events, so
// the error is the one the speed layer serves; the sketch's 1% bound is
// flight's to test (sketch_test.go), not this package's.
//
// The bucket-by-bucket comparison reads the speed layer's buckets whole
// hour after whole hour (ScanHours: one HGETALL per hour hash, decoded
// without maps), holds them by (group, hour), then walks the batch rows of
// the same hours: stats exactly, the speed percentiles against the exact
// nearest-rank ones computed from the rows' histograms, the number of
// distinct destinations. Comparing every bucket that way cost ~2.5 s of CPU
// and ~1 s of Redis's one thread for 3,000,000 buckets (Redis sending them
// all); the digests cost one field per hour hash.
//
// What a digest does not see: it is the owner's record of what it wrote,
// not a hash of the bytes Redis holds. A bucket deleted or added behind the
// owner's back changes the hash's number of fields (HLEN), which is
// compared too; a bucket's value overwritten in place by something other
// than its owner, or a bug in the packed encoding itself, is not seen (the
// store's tests check that encoding; the speed tests check every bucket and
// every digest against the data set).
//
//	tributary_batch_reconcile_count_mismatches   buckets whose count differs
//	    (missing on one side counts): must be 0, except for the events the
//	    speed layer refused as late, which only the batch layer has
//	tributary_batch_reconcile_missing_events     batch events minus speed events
//	tributary_batch_reconcile_stats_mismatches   buckets whose sum, delayed,
//	    min or max differ while the count agrees
//	tributary_batch_reconcile_quantile_relative_error{quantile}  max over the
//	    buckets of |speed - exact| / max(|exact|, 1): the sketch's bound is 1%
//	tributary_batch_reconcile_distinct_relative_error  max relative error of
//	    the speed layer's distinct destinations (exact sets: 0 expected)
//	tributary_batch_reconcile_hours{how="digest"|"buckets"}  (view, hour)
//	    pairs settled by their digests, or compared bucket by bucket
package reconcile
