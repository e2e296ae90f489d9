// Package reconcile owns the check that the speed layer is right: after each
// publication, it compares the speed views with the exact batch views over the
// hours that the new version newly covers, records the differences in Redis
// (B:reconcile) and exports them as metrics (Collector), then gives those
// speed buckets a TTL: the batch view answers for them now.
//
// It knows nothing of the speed layer's keys: it reads and expires through
// the SpeedReader and SpeedExpirer interfaces it defines, which the speed
// layer implements (speed/store.Reader and speed/store.Expirer) and the
// process wiring (cmd/tributary) passes in. The types they exchange are the
// domain's (flight.SketchedBucket), so the batch layer imports no speed
// package.
//
// It compares every bucket, in bulk: the hours are cut into chunks of
// chunkHours, compared GOMAXPROCS at a time; for each chunk the speed
// layer's buckets are read whole hour after whole hour (ScanHours: one
// HGETALL per hour hash, decoded without maps) and held by (group, hour),
// then the batch view's rows of the same hours are walked group by group and
// each bucket is compared with its speed bucket: stats exactly, the speed
// percentiles against the exact nearest-rank ones computed from the rows'
// histograms, the number of distinct destinations. It used to build a
// flight.Summary (maps, sorted quantiles) and an exact Aggregate (maps) per
// bucket, reading them by bucket reference: 3,000,000 buckets took minutes;
// now it costs about a microsecond of CPU per bucket and memory bounded by a
// chunk, besides the loaded view.
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
package reconcile
