#!/usr/bin/env bash
# Load balance on make cluster, measured: replays ROWS flights (default
# 300000) as fast as the broker takes them and, per speed worker, the events
# it applied and the partitions it owned (its /metrics) and the CPU its
# process used (/proc/PID/stat), before and after; Jain's index over workers.
# Compare with the exact shares of bench/balance/balance-static.json
# (go run ./tools/evalbalance).
#
#   scripts/eval-balance.sh [ROWS]   -> bench/balance/balance-cluster.json
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rows=${1:-300000}
run="${TRIBUTARY_CLUSTER_DIR:-$root/.run/cluster}"
[ -f "$run/env" ] || { echo "balance: no cluster: run make cluster" >&2; exit 1; }
set -a; . "$run/env"; set +a
mkdir -p bench/balance
snap() { python3 scripts/eval_balance.py snap "$run"; }
applied() { curl -fsS "$TRIBUTARY_SERVE_URL/v1/status" | python3 -c 'import json,sys; print(sum(p.get("applied",0) for p in json.load(sys.stdin)["speed"]["partitions"]))'; }
start=$(applied)
before=$(snap)
t0=$(date +%s.%N)
bin/tributary replay --speed max --limit "$rows" --producer "balance-$(date +%s)" --reset --metrics-addr "" >> "$run/logs/balance-replay.log" 2>&1 \
  || { echo "balance: replay failed (see $run/logs/balance-replay.log)" >&2; exit 1; }
# Until the speed layer has applied the ROWS events (a new producer: none is a duplicate).
for _ in $(seq 1 600); do
  now=$(applied || echo "$start")
  [ "$now" -ge $((start + rows)) ] && break
  sleep 1
done
[ "$now" -ge $((start + rows)) ] || { echo "balance: the speed layer applied $((now - start)) of $rows events in 10 min" >&2; exit 1; }
t1=$(date +%s.%N)
after=$(snap)
python3 scripts/eval_balance.py report "$before" "$after" "$t0" "$t1" "$rows" "$(git rev-parse --short HEAD)" > bench/balance/balance-cluster.json
echo "balance: results in bench/balance/balance-cluster.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps(d["summary"], indent=1))' bench/balance/balance-cluster.json
