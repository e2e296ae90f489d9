#!/usr/bin/env bash
# `make bench`: Tributary as a user runs it, against its references, in one run
# (bench/deployed; docs/benchmarks.md says what is measured and how). It starts
# the processes of `make demo` from bin/tributary with their default flags,
# writes every figure to bench/results/<UTC timestamp>.json and latest.json,
# prints one table of ratios (bench/report) and, unless BENCH_QUICK=1 or
# BENCH_DOC=0, regenerates docs/benchmarks.md from the JSON.
#
# Settings (environment), for configuration matrices (issue 13):
#   ROWS            flights replayed (default 3000000; quick: 300000)
#   SPEED_WORKERS   tributary speed processes (2)
#   BATCH_WORKERS   tributary worker processes, and raw asynq servers (2)
#   PARTITIONS      stream partitions (8)
#   FLUSH_INTERVAL  speed --flush-interval (empty: the binary's default)
#   ENCODING        replay --encoding: arrow or json (arrow)
#   TASKS, LEAVES   scheduler shapes (10000, 1000; quick: 2000, 300)
#   RUNS            runs of each scheduler measurement, medians reported (1)
#   SERVE_SECONDS   duration of each serve load (15; quick: 5)
#   OPEN_RATE       open-loop requests/s (2000), CONNS connections (50)
#   ALL_DATA_REQUESTS uncached requests of each query over all data (50)
#   LATENCY_ROWS    flights published at LATENCY_RATE (5000) events/s in the
#                   latency phase (100000: 20 s; quick: 25000)
#   PHASES          scheduler,speed,batch,serve,latency (all)
#   BENCH_PORT_BASE first of 40 local ports for the roles (17300)
#   BENCH_KEEP=1    keep the run's keys, streams and segments
#   BENCH_QUICK=1   smaller sizes and shorter loads (a few minutes); the JSON
#                   is named *-quick.json (and latest-quick.json) and labelled quick
set -euo pipefail
cd "$(dirname "$0")/.."
set -a; [ -f .run/env ] && . .run/env; set +a
quick=${BENCH_QUICK:-0}
if [ "$quick" = 1 ]; then
  : "${ROWS:=300000}" "${TASKS:=2000}" "${LEAVES:=300}" "${SERVE_SECONDS:=5}" "${LATENCY_ROWS:=25000}"
fi
# Debian's python3 with pandas and Dask, never the python3 first on PATH.
if ! /usr/bin/python3 -c 'import pandas, dask.dataframe, distributed' 2>/dev/null; then
  TRIBUTARY_EXTRA_PKGS="python3-pandas python3-dask python3-distributed ${TRIBUTARY_EXTRA_PKGS:-}" scripts/deps.sh
fi
command -v redis-benchmark >/dev/null || { echo "bench: redis-benchmark is missing (make deps)"; exit 1; }
go build -o bin/tributary ./cmd/tributary
go build -o bin/bench-deployed ./bench/deployed
go build -o bin/bench-rawasynq ./bench/rawasynq
go build -o bin/bench-rawconsume ./bench/rawconsume
go build -o bin/bench-loadgen ./bench/serve/loadgen
go build -o bin/bench-report ./bench/report
go build -o bin/evalfeed ./tools/evalfeed
args=(-rows "${ROWS:-3000000}" -workers "${BATCH_WORKERS:-2}" -speed-workers "${SPEED_WORKERS:-2}"
  -partitions "${PARTITIONS:-8}" -flush-interval "${FLUSH_INTERVAL:-}" -encoding "${ENCODING:-arrow}"
  -tasks "${TASKS:-10000}" -leaves "${LEAVES:-1000}" -runs "${RUNS:-1}" -serve-seconds "${SERVE_SECONDS:-15}"
  -open-rate "${OPEN_RATE:-2000}" -conns "${CONNS:-50}" -all-data-requests "${ALL_DATA_REQUESTS:-50}" -phases "${PHASES:-scheduler,speed,batch,serve,latency}"
  -latency-rows "${LATENCY_ROWS:-100000}" -latency-rate "${LATENCY_RATE:-5000}"
  -port-base "${BENCH_PORT_BASE:-17300}")
[ "$quick" = 1 ] && args+=(-quick)
[ "${BENCH_KEEP:-0}" = 1 ] && args+=(-keep)
status=0
json=$(bin/bench-deployed "${args[@]}") || status=$?
[ -n "$json" ] || exit "$status"
echo
bin/bench-report -in "$json"
if [ "$quick" != 1 ] && [ "${BENCH_DOC:-1}" = 1 ] && [ "$status" = 0 ]; then
  bin/bench-report -in "$json" -doc docs/benchmarks.md
  echo "bench: docs/benchmarks.md regenerated from $json"
fi
exit "$status"
