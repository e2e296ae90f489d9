// Command batch is the batch layer's benchmark (bench/batch.sh runs it): a
// full recompute of the 3,000,000 flights through the scheduler with two
// worker processes, an incremental recompute after 1% more data, and pandas
// and Dask dataframe computing the same per-airport exact statistics from a
// CSV of the same flights, all in one run on the same machine.
//
// Profiling aid: it calls the layer in one process; the headline figures come
// from `make bench` (bench/deployed), the deployed processes.
package main
