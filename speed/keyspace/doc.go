// Package keyspace owns the layout of the speed layer's Redis keys. Every key
// lives under "<keyPrefix>:speed:" (written P below); hours are Unix seconds of
// the hour's start (UTC), views are flight.View names, groups are an origin
// ("ATL") or a route ("ATL-LAX").
//
//	P:{<p>}:h:<view>:<hour>    hash, partition p's part of one hour of one view:
//	                            field <group> = the bucket's absolute state,
//	                            packed (speed/store packed.go: count, sum,
//	                            delayed, min, max, the DDSketch bins, and the
//	                            sorted destinations for views with
//	                            DistinctDestinations); a group lives in the
//	                            partition of its origin (GroupPartition), so a
//	                            reader of one group reads one partition's
//	                            hashes, and a reader of every group of an hour
//	                            reads the P hashes of that hour; the
//	                            reserved field #digest (FieldDigest) holds
//	                            the sum of the hash's buckets'
//	                            flight.BucketHash, which the reconciliation
//	                            compares before any bucket
//	P:{<p>}:part                hash, partition p's committed progress: offset
//	                            (last applied stream offset), token (fencing token
//	                            of the last writer), maxtime (µs, highest event
//	                            time applied; watermark = maxtime - allowed
//	                            lateness), mintime (µs, lowest event time
//	                            applied), s:<producer> (dedup mark: highest applied seq and gaps, ingest/dedup.Mark),
//	                            applied, late, duplicates, quarantined (totals),
//	                            expired (the first hour whose hashes were not
//	                            given the covered TTL yet: the coverage duty),
//	                            expired_grace_ms (that TTL, which the flush
//	                            gives a hash it writes before expired)
//	P:{<p>}:lease               string "<worker>|<token>" with a PX TTL: the lease
//	P:{<p>}:fence               counter: the last fencing token handed out for p
//	P:{<p>}:quarantine          list of partition p's quarantine entries (ingest/quarantine JSON, newest last, capped)
//	P:members                   zset of live workers scored by heartbeat expiry (ms)
//
// All of one partition's writes happen in one Lua script (see package store)
// whose keys all carry the partition's hash tag {<p>}: they share one slot of
// a Redis Cluster, and the same layout serves one server and Sentinel.
package keyspace
