// Package keyspace owns the layout of the speed layer's Redis keys. Every key
// lives under "<keyPrefix>:speed:" (written P below); hours are Unix seconds of
// the hour's start (UTC), views are flight.View names, groups are an origin
// ("ATL") or a route ("ATL-LAX").
//
//	P:h:<view>:<hour>           hash, one hour of one view: field <group> = the
//	                            bucket's absolute state, packed (speed/store
//	                            packed.go: count, sum, delayed, min, max, the
//	                            DDSketch bins, and the sorted destinations for
//	                            views with DistinctDestinations); every field is
//	                            written by the one partition its origin is in
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
//	P:quarantine                list of quarantine entries (ingest/quarantine JSON, newest last, capped)
//
// All of one partition's writes happen in one Lua script (see package store),
// on one Redis: the layout is not meant for Redis Cluster.
package keyspace
