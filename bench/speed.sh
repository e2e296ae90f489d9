#!/usr/bin/env bash
# PROFILING AID (in process, not the headline: `make bench` measures the
# deployed processes; see docs/benchmarks.md).
# Speed-layer benchmark (docs/benchmarks.md, "Speed layer"): throughput of 1, 2
# and 4 workers against a bare consumer of the same streams, then latency at a
# fixed input rate. Needs `make services` and `make data`.
set -euo pipefail
cd "$(dirname "$0")/.."
set -a; [ -f .run/env ] && . .run/env; set +a
exec go run ./bench/speed "$@"
