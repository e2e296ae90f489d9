// Package keyspace owns the layout of the speed layer's Redis keys. Every key
// lives under "<keyPrefix>:speed:" (written P below); hours are Unix seconds of
// the hour's start (UTC), views are flight.View names, groups are an origin
// ("ATL") or a route ("ATL-LAX").
//
//	P:v:<view>:<group>:<hour>   hash, one bucket of one view:
//	                            count, sum, delayed, min, max (integers, minutes)
//	                            and b<bin> = count of the DDSketch bin (flight.SketchBin)
//	P:d:<view>:<group>:<hour>   HyperLogLog of the bucket's destinations (views
//	                            with DistinctDestinations only)
//	P:g:<view>:<hour>           set of the groups that have a bucket in that hour
//	P:part:<p>                  hash, partition p's committed progress: offset
//	                            (last applied stream offset), token (fencing token
//	                            of the last writer), maxtime (µs, highest event
//	                            time applied; watermark = maxtime - allowed
//	                            lateness), mintime (µs, lowest event time
//	                            applied), s:<producer> (dedup mark: highest applied seq and gaps, ingest/dedup.Mark),
//	                            applied, late, duplicates, quarantined (totals)
//	P:lease:<p>                 string "<worker>|<token>" with a PX TTL: the lease
//	P:fence:<p>                 counter: the last fencing token handed out for p
//	P:members                   zset of live workers scored by heartbeat expiry (ms)
//	P:scratch:<id>              HyperLogLog union of one distinct read (deleted at
//	                            once, 1 min TTL in case the reader dies)
//	P:quarantine                list of quarantine entries (ingest/quarantine JSON, newest last, capped)
//
// All of one partition's writes happen in one Lua script (see package store),
// on one Redis: the layout is not meant for Redis Cluster.
package keyspace
