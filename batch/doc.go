// Package batch is the batch layer of the lambda architecture; it has no code
// of its own, only this overview. Its sub-packages, one concern each:
//
//	segment    segment names and the Parquet format of the master data set
//	segstore   where segments live: a local directory or gs:// / s3:// (gocloud.dev/blob)
//	archive    `tributary archive`: streams -> committed, deduplicated segments
//	partial    exact per-bucket partial aggregates as Arrow IPC: build, merge, read
//	recompute  the recompute task graph and its worker functions
//	view       atomic publication of a version, and the reader (Load)
//	reconcile  speed vs batch comparison, metrics, the hours it covers (for the speed layer's expiry)
//	batchkeys  the Redis key layout (documented there)
//
// # Data flow
//
// The archiver consumes every partition with offsets of its own and writes
// one Parquet segment per partition and offset range,
// p<partition>/<first offset, 20 digits>-<last offset, 20 digits>.parquet,
// durably (temp + fsync + rename + dir fsync, or an object store's atomic
// upload) before committing the offset, the producers' high seqs and the
// partition's "complete up to" event time in one Redis script. The committed
// segment lists in Redis, not the store's listing, define the data set.
//
// A recompute (cron via `tributary scheduler` with TRIBUTARY_BATCH_CRON, or
// `tributary batch run [--wait]`) is a graph on the scheduler: one
// batch.partial task per segment (memoized as partial:e<epoch>:<segment>,
// writing the segment's aggregate to a node of its own), merge tasks per
// partition over FanIn nodes of similar size (a size-tiered tree,
// content-addressed, so old nodes stay memoized and a small increment never
// re-merges large old nodes), one batch.publish that switches the current version
// atomically, one batch.reconcile. The boundary is the lowest "complete up
// to" over the partitions that archived anything, truncated to the hour; the
// view covers the hours strictly before it.
//
// # Reading the view (the serving layer)
//
//	v, err := view.Load(ctx, rdb, keyPrefix) // view.ErrNoView before the first publication
//	v.Version, v.Boundary, v.PublishedAt, v.Events, v.Segments
//	v.Groups("airport_hour")                         // sorted groups
//	v.Hours("route_hour", "ATL-LAX")                 // hours with data
//	a, err := v.Range("airport_hour", "ATL", from, to) // hours [from, to) in Unix s, to clipped to Boundary
//	a.Stats (count, sum, delayed, min, max), a.Quantiles() (exact, nearest rank,
//	flight.Percentiles()), a.Hist (flight.Histogram), a.Distinct(), a.Destinations
//	v.Stats(view, group, from, to)                    // stats only, cheaper
//	view.Current(ctx, rdb, keyPrefix)                 // manifest only: poll it to reload on a new version
//
// A loaded View is immutable and safe for concurrent use. A retired version's
// nodes stay readable for the grace period (default 10 minutes) after the
// switch; reload within it.
package batch
