#!/usr/bin/env bash
# Load balance on make cluster, measured, on fresh key and stream prefixes
# (the roles restarted on them, as make chaos does: no backlog of earlier
# runs in the window):
#   speed  replays ROWS flights (default 300000) as fast as the broker takes
#          them; per speed worker, the events it applied and the partitions
#          it owned (its /metrics) and the CPU its process used
#          (/proc/PID/stat), from before the replay to the last event applied;
#   batch  once the archivers hold the ROWS events, `tributary batch run
#          --wait`; per batch worker, the tasks it ran (by function, from
#          tributary_worker_tasks_total) and its CPU.
# Jain's index over workers for each. Compare with the exact shares of
# bench/balance/balance-static.json (go run ./tools/evalbalance).
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
go build -o bin/tributary ./cmd/tributary
sfx=$(date +%s)
export TRIBUTARY_KEY_PREFIX="balance-$sfx" TRIBUTARY_STREAM_PREFIX="balance.$sfx"
printf "TRIBUTARY_KEY_PREFIX=%s\nTRIBUTARY_STREAM_PREFIX=%s\n" "$TRIBUTARY_KEY_PREFIX" "$TRIBUTARY_STREAM_PREFIX" > "$run/env.local"
restore() { rm -f "$run/env.local"; scripts/cluster.sh restart-roles >/dev/null || true; }
trap restore EXIT
scripts/cluster.sh restart-roles
bin/tributary streams declare >/dev/null
sleep 5
snap() { python3 scripts/eval_balance.py snap "$run"; }
applied() { curl -fsS -m 5 "$TRIBUTARY_SERVE_URL/v1/status" | python3 -c 'import json,sys; print(sum(p.get("applied",0) for p in json.load(sys.stdin)["speed"]["partitions"]))'; }
archived() { bin/tributary batch status 2>/dev/null | python3 -c 'import json,sys; print(sum(p["events"] for p in json.load(sys.stdin).get("archive", {}).get("partitions", [])))'; }
before=$(snap)
t0=$(date +%s.%N)
bin/tributary replay --speed max --limit "$rows" --producer "balance-$sfx" --reset --metrics-addr "" >> "$run/logs/balance-replay.log" 2>&1 \
  || { echo "balance: replay failed (see $run/logs/balance-replay.log)" >&2; exit 1; }
now=0
for _ in $(seq 1 600); do
  now=$(applied || echo 0)
  [ "$now" -ge "$rows" ] && break
  sleep 1
done
[ "$now" -ge "$rows" ] || { echo "balance: the speed layer applied $now of $rows events in 10 min" >&2; exit 1; }
t1=$(date +%s.%N)
after=$(snap)
# The batch layer: a recompute of the archive once it holds every event.
for _ in $(seq 1 180); do [ "$(archived || echo 0)" -ge "$rows" ] && break; sleep 1; done
[ "$(archived || echo 0)" -ge "$rows" ] || { echo "balance: the archive did not reach $rows events in 3 min" >&2; exit 1; }
bbefore=$(snap)
b0=$(date +%s.%N)
bin/tributary batch run --wait >> "$run/logs/balance-batch.log" 2>&1 || { echo "balance: batch run failed (see $run/logs/balance-batch.log)" >&2; exit 1; }
b1=$(date +%s.%N)
bafter=$(snap)
python3 scripts/eval_balance.py report "$before" "$after" "$t0" "$t1" "$rows" "$(git rev-parse --short HEAD)" "$bbefore" "$bafter" "$b0" "$b1" > bench/balance/balance-cluster.json
# The run's streams and keys go (the figures are in the JSON).
bin/tributary streams delete >/dev/null 2>&1 || true
python3 -c 'import sys; sys.path.insert(0, "scripts"); import eval_matrix; eval_matrix.drop_keys(sys.argv[1], sys.argv[2])' "$run" "$TRIBUTARY_KEY_PREFIX" || true
echo "balance: results in bench/balance/balance-cluster.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps({"speed": d["summary"], "batch": d["batch"]["summary"]}, indent=1))' bench/balance/balance-cluster.json
