// Package graph owns the model of a Tributary task graph: tasks identified by
// keys, each naming a registered function, its arguments and the keys it
// depends on (whose results it receives, in order), like Dask's graph spec.
// It offers a builder (Task, MapPartitions, TreeReduce), validation (cycles,
// missing dependencies, duplicate keys, unknown functions) and the graph's
// content hash, which is its default ID so that submitting the same graph
// twice is idempotent. It does no I/O.
package graph
