// Package recompute owns the batch recomputation as a task graph on the
// scheduler (package scheduler), and the worker functions it calls:
//
//	batch.partial    one per committed segment, task key
//	                 partial:e<epoch>:<segment>: reads the columns the views
//	                 need (time, origin, destination, delay) with Arrow, the
//	                 airport codes as Parquet's dictionary indices, and
//	                 computes the segment's aggregate (package partial,
//	                 Columnar: a radix sort and a run-length encoding, no
//	                 map per bucket); writes it to its node B:node:<hash of
//	                 the epoch and the segment> and returns a small NodeInfo
//	                 (JSON). Segments are immutable, so the result is
//	                 memoized by the scheduler for NodeTTL: a recompute after
//	                 new data scans only the new segments.
//	batch.merge      combines nodes (partials' or merged ones) exactly by a
//	                 k-way merge of their sorted tables, writes the result to
//	                 B:node:<hash of the epoch and the segments> and returns
//	                 a NodeInfo. Per partition the nodes form a size-tiered
//	                 tree (see tree.partition): a segment's weight is its
//	                 offset span, its tier floor(log_FanIn(weight)), and
//	                 FanIn roots of one tier are merged into one node. Old
//	                 nodes keep their content-addressed keys (memoized) as
//	                 data grows, and a small increment only adds a partial,
//	                 merged later with nodes of its own size: never with
//	                 large old ones.
//	batch.publish    gathers the NodeInfos into a manifest and switches the
//	                 current version atomically (package view).
//	batch.reconcile  compares the speed views with the new batch view over
//	                 the hours it newly covers, records the differences
//	                 (package reconcile), then expires those speed buckets.
//
// Build reads the archive's committed state (package archive), takes a new
// version number and returns the graph; Run submits it and waits.
package recompute
