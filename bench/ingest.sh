#!/usr/bin/env bash
# PROFILING AID (in process, not the headline: `make bench` measures the
# deployed processes; see docs/benchmarks.md).
# Replayer vs a bare amqp091-go publisher of the same payloads, same confirms,
# in one run: medians of COUNT runs of each, and their ratios.
# Needs the services (make services) and the data set (make data).
set -euo pipefail
cd "$(dirname "$0")/.."
count=${COUNT:-5}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
go test -run '^$' -bench . -benchtime 1x -count "$count" ./bench/ingest | tee "$out" >&2
awk '
  /^Benchmark/ { name=$1; sub(/-[0-9]+$/, "", name); for (i=1;i<=NF;i++) if ($(i+1)=="events/s") v[name]=v[name] " " $i }
  function median(s,   a, n, i, j, t) { n=split(s, a, " "); for (i=1;i<=n;i++) for (j=i+1;j<=n;j++) if (a[j]+0<a[i]+0) {t=a[i];a[i]=a[j];a[j]=t}; return (n%2) ? a[(n+1)/2] : (a[n/2]+a[n/2+1])/2 }
  END {
    printf "| encoding | replayer (events/s) | raw amqp091-go publisher (events/s) | replayer / raw |\n|---|---:|---:|---:|\n"
    split("arrow json", encs, " ")
    for (k=1;k<=2;k++) { e=encs[k]; r=median(v["BenchmarkReplay/" e]); w=median(v["BenchmarkRawPublish/" e]);
      printf "| %s | %.0f | %.0f | %.0f%% |\n", e, r, w, 100*r/w }
  }' "$out"
