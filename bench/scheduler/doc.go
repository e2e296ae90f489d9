// Command scheduler benchmarks Tributary's task scheduler against raw asynq
// on the same Redis: N independent no-op tasks, and a tree reduction of L
// leaves, through (a) raw asynq (enqueue with asynq.Client from 8 goroutines
// and process with one asynq server; the tree is run level by level, each
// level enqueued when the previous one is processed, since asynq has no
// dependencies) and (b) Tributary (a worker and the scheduler library in
// this process, Submit then Wait). Both use one asynq server with the same
// concurrency and task check interval. It prints one line per run:
// "system shape tasks seconds tasks_per_s". bench/scheduler.sh adds Dask.
//
// Profiling aid: it calls the layer in one process; the headline figures come
// from `make bench` (bench/deployed), the deployed processes.
package main
