// Package batchkeys owns the layout of the batch layer's Redis keys. Every key
// lives under "<keyPrefix>:batch:" (written B below).
//
// The archiver (package archive):
//
//	B:archive:meta            hash: store (URL of the segment store), partitions
//	B:archive:{<p>}:part       hash, partition p's committed progress: offset
//	                          (last archived stream offset, -1 none), maxtime (µs,
//	                          highest event time archived: the partition is
//	                          complete up to it), events, segments, duplicates,
//	                          quarantined (totals), s:<producer> (dedup mark:
//	                          "HIGH" or "HIGH LO-HI,...", ingest/dedup.Mark),
//	                          commit (the last commit's attempt id)
//	B:archive:{<p>}:segments   zset of partition p's committed segment names
//	                          scored by their first offset: the master data set
//	                          (files in the store that are not listed here were
//	                          never committed and are ignored)
//	B:archive:{<p>}:quarantine list of partition p's quarantine entries (ingest/quarantine JSON, newest last, capped)
//	B:archive:members         zset of live archivers scored by heartbeat expiry (internal/membership)
//	B:archive:{<p>}:lease      partition p's lease: "<archiver>|<token>" with a PX TTL (internal/lease)
//	B:archive:{<p>}:fence      counter: partition p's last fencing token
//
// The recompute and the published view (packages recompute and view):
//
//	B:{view}:version          counter: the last version number handed out
//	B:{view}:epoch            counter salting the keys of merged nodes; bumped to
//	                          force their recomputation if a node went missing
//	B:{view}:node:<hash>      string, Arrow IPC (package partial): a merged node of the
//	                          recompute tree; immutable, content-addressed by the
//	                          segments it covers; has a TTL until published
//	B:{view}:v<N>             hash, version N's manifest: version, boundary,
//	                          published_at, segments, events, nodes (newline-
//	                          separated node keys)
//	B:{view}:current          hash, the manifest of the current version (same
//	                          fields), switched by one script
//	B:reconcile               hash, the last reconciliation's results
//
// Every key a script touches shares one hash tag, so that the script runs
// on one Redis Cluster slot with the same layout on one server or Sentinel:
// {<p>} for the archive's commit of partition p (the speed layer's
// partition p has the same tag), {view} for the published view's switch.
package batchkeys
