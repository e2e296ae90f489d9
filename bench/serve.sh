#!/usr/bin/env bash
# PROFILING AID (in process, not the headline: `make bench` measures the
# deployed processes; see docs/benchmarks.md).
# The serving layer under load, against redis-benchmark's GET on the same Redis,
# in one run: loads the data set through the pipeline first (a few minutes).
# Needs the services (make services) and the data set (make data).
set -euo pipefail
cd "$(dirname "$0")/.."
go test -run '^$' -bench BenchmarkServe -benchtime 1x -timeout 30m ./bench/serve
