// Command rawasynq is the raw-asynq reference of `make bench` (bench/deployed):
// asynq v0.26.0 alone, with nothing of Tributary, run as separate processes
// like the deployed shape. `-role server` runs one asynq server that acks
// no-op tasks (one process per server); `-role client` enqueues 10,000
// independent tasks, or a tree reduction level by level (asynq has no
// dependencies), waits until the queue is empty after each level (asynq's
// Inspector) and prints one JSON line with tasks/s.
//
// It imports no Tributary package, so that changes to the scheduler do not
// change the reference.
package main
