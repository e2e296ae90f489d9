// Package replay owns the replayer: it streams the flights data set into the
// partitioned stream queues in event-time order, at a multiple of real time or
// as fast as the broker confirms.
//
// Delivery: an event counts as sent only once the broker confirmed it
// (publisher confirms). Messages not yet confirmed are kept and published
// again after a broker failure, so a retry may store a message twice.
//
// Sequence numbers: every event carries (producer, seq), where seq is the
// event's ordinal within its partition in the data set, starting at 1. It is
// a function of the data set, not of the run, so a message published twice,
// or a row replayed again after a restart, carries the same seq: consumers
// keep, per partition and producer, the highest seq they applied and drop
// anything at or below it.
//
// Resumption: a checkpoint in Redis records the first row not yet confirmed
// (with every event before it confirmed) and each partition's seq there. A
// replay killed at any point and started again continues from the
// checkpoint: nothing is skipped, and the rows between the checkpoint and the
// kill (at most the checkpoint interval's worth) are sent again with their
// original seqs.
package replay
