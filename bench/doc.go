// Package bench holds Tributary's benchmarks. Each sub-package measures one
// part of the pipeline against its reference (the raw broker, raw asynq, Dask,
// pandas) in the same run; scripts beside them run them and print the ratios
// that docs/benchmarks.md reports.
package bench
