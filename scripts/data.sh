#!/usr/bin/env bash
# Fetches the flights data set from the npm package vega-datasets@3.2.1 (BSD-3-Clause)
# into data/ and checks the sha256 of each file. The only step that downloads data.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data="$root/data"
mkdir -p "$data"

declare -A want=(
  [flights-3m.parquet]=dbeb920c90f59b6ccaff823dcc3d08f25a97fa1ce128d93f40be4e931f5900b0
  [airports.csv]=903c7169e6d558eefb95295fe2947ec8503135fbb855ea5c737cf4a90ea603ad
)

ok() { [ -f "$data/$1" ] && echo "${want[$1]}  $data/$1" | sha256sum --check --status; }

missing=0
for f in "${!want[@]}"; do ok "$f" || missing=1; done
if [ "$missing" = 0 ]; then echo "data: present and checked"; exit 0; fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "data: npm pack vega-datasets@3.2.1"
(cd "$tmp" && npm pack --silent vega-datasets@3.2.1 >/dev/null)
tar -xzf "$tmp"/vega-datasets-3.2.1.tgz -C "$tmp" package/data/flights-3m.parquet package/data/airports.csv
for f in "${!want[@]}"; do
  got=$(sha256sum "$tmp/package/data/$f" | cut -d' ' -f1)
  if [ "$got" != "${want[$f]}" ]; then
    echo "data: $f has sha256 $got, want ${want[$f]}" >&2; exit 1
  fi
  mv "$tmp/package/data/$f" "$data/$f"
done
echo "data: flights-3m.parquet and airports.csv in $data, checked"
