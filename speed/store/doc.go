// Package store owns the speed layer's writes to and reads from Redis (key
// layout in package keyspace): the flush script that applies one partition's
// deltas and progress atomically behind its fencing token, the load of a
// partition's committed progress, and the Reader that the tests and the
// serving layer use.
//
// A flush is one EVALSHA (one round trip). The script first checks that the
// lease is still "<worker>|<token>", that no later token has written, and that
// the partition's committed offset is the one the writer resumed from; only
// then does it write anything. So a worker that lost its lease, or that is
// behind a newer writer, changes nothing: its flush is refused.
package store
