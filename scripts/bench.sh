#!/usr/bin/env bash
# Runs every benchmark section of docs/benchmarks.md, one after the other.
# Each bench/*.sh prints a Markdown table of its figures and ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
for b in bench/*.sh; do
  echo "== $b"
  "$b"
done
