// Command chaoscheck is the independent exactness check of `make chaos`: it
// recomputes, from the Parquet data set alone, how many flights of the first
// N rows left each origin airport in each hour, and compares that with the
// speed layer's airport_hour views in Redis.
//
// The expected side shares no code with the pipeline on purpose (arrow-go's
// Parquet reader and its own hour bucketing): a bug in the pipeline's event
// decoding, routing or hour bucketing cannot hide from it. The counted side
// reads the speed views through speed/store's Reader, the one decoder of
// the packed buckets (their encoding is checked by speed/store's own
// tests); the coverage check reads its keys and fields as the docs give
// them.
//
//	chaoscheck -data data/flights-3m.parquet -rows 100000 -redis-url URL -prefix tributary -wait 3m
//
// It waits until the views reach the expected total or stop moving for
// -settle, then prints a JSON object: expected and counted events, lost (an
// hour counts fewer flights than it should), double_counted (more), and the
// buckets that differ. It exits 1 when lost or double_counted is not 0.
//
// With -coverage (after a batch run) it also checks the speed layer's
// coverage duty: once every partition's progress has reached the end of the
// last reconciliation's hours, every speed hour hash before that end must
// have a TTL no longer than the report's grace, and no later one any TTL.
package main
