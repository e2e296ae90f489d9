// Package serve benchmarks the serving layer: loadgen (a separate process)
// sends month-long airport queries at a fixed rate and as fast as it can, and
// bench/serve.sh compares the throughput with redis-benchmark's GET rate on
// the same Redis in the same run.
//
// speedcost.sh times the worst queries the speed part admits (a speed
// layer holding the data set, no batch view; see command speedcost).
//
// Profiling aid: it calls the layer in one process; the headline figures come
// from `make bench` (bench/deployed), the deployed processes.
package serve
