// Package recompute owns the batch recomputation as a task graph on the
// scheduler (package scheduler), and the worker functions it calls:
//
//	batch.partial    one per committed segment, task key partial:<segment>:
//	                 reads the columns the views need (time, origin,
//	                 destination, delay) with Arrow and returns the segment's
//	                 aggregate (package agg). Segments are immutable, so the
//	                 result is memoized by the scheduler for NodeTTL: a
//	                 recompute after new data scans only the new segments.
//	batch.merge      tree-merge: combines partials (or merged nodes) exactly,
//	                 writes the result to B:node:<hash> and returns a small
//	                 NodeInfo (JSON). Per partition, segments are grouped in
//	                 aligned blocks of FanIn^L segments (complete blocks only,
//	                 greedily from the start, a "tail" node for the < FanIn
//	                 last ones), so the nodes of old segments keep their
//	                 content-addressed keys and stay memoized as data grows.
//	batch.publish    gathers the NodeInfos into a manifest and switches the
//	                 current version atomically (package view).
//	batch.reconcile  compares the speed views with the new batch view over
//	                 the hours it newly covers, records the differences
//	                 (package reconcile), then expires those speed buckets.
//
// Build reads the archive's committed state (package archive), takes a new
// version number and returns the graph; Run submits it and waits.
package recompute
