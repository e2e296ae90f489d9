// Command speed measures the speed layer on the real services: events per
// second applied to Redis by 1, 2 and 4 workers against the raw consume rate
// of the same streams in the same run (a bare amqp091-go consumer that does
// nothing), and event-to-view latency at a fixed input rate. See
// docs/benchmarks.md, section "Speed layer"; run it through bench/speed.sh.
//
// Profiling aid: it calls the layer in one process; the headline figures come
// from `make bench` (bench/deployed), the deployed processes.
package main
