// Package ingest benchmarks the replayer against a bare amqp091-go publisher
// that publishes the same payloads with the same publisher confirms: the ratio
// is what the replayer's own work (reading Parquet, partitioning, encoding,
// checkpointing) costs on top of the broker.
//
// Profiling aid: it calls the layer in one process; the headline figures come
// from `make bench` (bench/deployed), the deployed processes.
package ingest
