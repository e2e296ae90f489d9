#!/usr/bin/env bash
# PROFILING AID (in process, not the headline: `make bench` measures the
# deployed processes; see docs/benchmarks.md).
# Batch layer: full and incremental recompute of the 3,000,000 flights through
# the scheduler with 2 worker processes, against pandas (one process) and Dask
# dataframe (LocalCluster 2 x 1 thread, MALLOC_TRIM_THRESHOLD_ unset, and out
# of the box) computing the same per-airport exact statistics from a CSV of the
# same flights. Needs the services (make services) and the data set (make data).
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian's python3 with pandas and Dask, never the python3 first on PATH.
if ! /usr/bin/python3 -c 'import pandas, dask.dataframe, distributed' 2>/dev/null; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get install -y python3-pandas python3-dask python3-distributed
fi
go build -o bin/tributary ./cmd/tributary
go run ./bench/batch -bin bin/tributary -runs "${RUNS:-3}" "$@"
