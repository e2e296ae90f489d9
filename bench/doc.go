// Package bench holds Tributary's benchmarks.
//
// The headline is `make bench` (scripts/bench.sh): bench/deployed starts the
// processes a user runs (bin/tributary's subcommands, default flags) and runs
// every reference in the same run (bench/rawasynq, bench/rawconsume,
// bench/serve/loadgen against redis-benchmark, Dask and pandas through
// bench/scheduler_dask.py, bench/batch_views.py and bench/batch_stats.py),
// writes the figures as JSON in bench/results/, and bench/report prints the
// table of ratios and regenerates docs/benchmarks.md. These import no Tributary package.
//
// The other sub-packages and their scripts (bench/ingest, bench/scheduler,
// bench/batch, bench/speed, bench/serve, bench/*.sh) call a layer's library
// in one process: they are profiling aids (CPU profiles, Redis commands per
// task or event), not the figures docs/benchmarks.md reports.
package bench
