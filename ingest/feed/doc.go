// Package feed owns publishing rows of the data set into the partitioned
// streams the way the replayer does (Arrow batches per partition, producer
// name, Seq = the event's ordinal within its partition from row 0), with
// publisher confirms, an optional fixed event rate and an optional publish-time
// header. The speed and batch layers' tests and the benchmarks use it to control exactly what
// is in the streams; it is not the replayer (ingest/replay has no rate-stamped
// headers nor per-test control of message sizes).
package feed
