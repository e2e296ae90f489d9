// Package batchkeys owns the layout of the batch layer's Redis keys. Every key
// lives under "<keyPrefix>:batch:" (written B below).
//
// The archiver (package archive):
//
//	B:archive:meta            hash: store (URL of the segment store), partitions
//	B:archive:part:<p>        hash, partition p's committed progress: offset
//	                          (last archived stream offset, -1 none), maxtime (µs,
//	                          highest event time archived: the partition is
//	                          complete up to it), events, segments, duplicates,
//	                          quarantined (totals), s:<producer> (dedup mark:
//	                          "HIGH" or "HIGH LO-HI,...", ingest/dedup.Mark),
//	                          commit (the last commit's attempt id)
//	B:archive:segments:<p>    zset of partition p's committed segment names
//	                          scored by their first offset: the master data set
//	                          (files in the store that are not listed here were
//	                          never committed and are ignored)
//	B:archive:quarantine      list of quarantine entries (ingest/quarantine JSON, newest last, capped)
//	B:archive:members         zset of live archivers scored by heartbeat expiry (internal/membership)
//	B:archive:lease:<p>       partition p's lease: "<archiver>|<token>" with a PX TTL (internal/lease)
//	B:archive:fence:<p>       counter: partition p's last fencing token
//
// The recompute and the published view (packages recompute and view):
//
//	B:version                 counter: the last version number handed out
//	B:epoch                   counter salting the keys of merged nodes; bumped to
//	                          force their recomputation if a node went missing
//	B:node:<hash>             string, Arrow IPC (package partial): a merged node of the
//	                          recompute tree; immutable, content-addressed by the
//	                          segments it covers; has a TTL until published
//	B:v<N>                    hash, version N's manifest: version, boundary,
//	                          published_at, segments, events, nodes (newline-
//	                          separated node keys)
//	B:current                 hash, the manifest of the current version (same
//	                          fields), switched by one script
//	B:reconcile               hash, the last reconciliation's results
package batchkeys
