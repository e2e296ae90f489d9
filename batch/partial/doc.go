// Package partial owns the batch layer's aggregates: the exact per-bucket
// statistics of every view of flight.Views() (count, sum, delayed, min, max,
// a whole-minute delay histogram, distinct destinations), computed from a
// segment's columns, merged exactly, and encoded as Arrow IPC.
//
// An encoded aggregate is one Arrow IPC stream (LZ4-compressed buffers) with
// one record batch per view, in the order of the schema metadata key
// "tributary.views" (comma-separated view names). Every batch has the same
// columns, rows sorted by (group, hour), one row per bucket:
//
//	group        utf8          origin ("ATL") or route ("ATL-LAX")
//	hour         int64         Unix seconds of the hour's start (UTC)
//	count, sum, delayed int64  flights, sum of delays, flights delayed >= 15 min
//	min, max     int32         delays in minutes
//	hist_delays  list<int32>   histogram: distinct delays, increasing ...
//	hist_counts  list<int64>   ... and their counts. EMPTY when count <= 2: the
//	                           histogram is then implied by min and max
//	                           ({min:1}, {min:2} or {min:1, max:1}); Table.Hist
//	                           expands it. Most route buckets hold one flight, so
//	                           this halves the size of the route view.
//	destinations list<utf8>    distinct destinations, sorted (views with
//	                           DistinctDestinations; empty lists otherwise)
//
// The same format is a segment's partial aggregate, a merged node of the
// recompute tree and a published shard of the batch view.
package partial
