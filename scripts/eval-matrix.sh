#!/usr/bin/env bash
# Throughput under configurations, on make cluster: one factor at a time
# around a baseline (2 speed workers, 8 partitions, flush 500ms, 2 batch
# workers, Arrow), each cell measured the same way by scripts/eval_matrix.py
# (replay --speed max of ROWS flights until the speed layer applied them:
# events/s, lag; PACED_ROWS more at 2,000 events/s by tools/evalfeed, whose
# messages carry their publish time: the event-to-view p50/p99 at a load
# every cell keeps up with; batch run --wait: seconds, tasks per batch
# worker; CPU and RSS per process, load average and the other engineers'
# CPU, every second). The baseline runs first, in the middle and last: its spread is the
# noise of this shared machine.
#
#   scripts/eval-matrix.sh            (needs make cluster up; ~12-15 min) -> bench/matrix/matrix.json
#   MATRIX_QUICK=1 scripts/eval-matrix.sh   3 cells of 20,000 flights, no batch (~3 min)
#                                           -> bench/matrix/matrix-quick.json
# Settings: MATRIX_ROWS (300000; quick 20000), MATRIX_PACED_ROWS (30000; quick 10000),
#           MATRIX_BATCH (1; quick 0), MATRIX_CELLS (names of the cells to run, default all).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
run="${TRIBUTARY_CLUSTER_DIR:-$root/.run/cluster}"
[ -f "$run/env" ] || { echo "matrix: no cluster: run make cluster" >&2; exit 1; }
set -a; . "$run/env"; set +a
quick=${MATRIX_QUICK:-0}
if [ "$quick" = 1 ]; then
  rows=${MATRIX_ROWS:-20000} paced=${MATRIX_PACED_ROWS:-10000} batch=${MATRIX_BATCH:-0} out=bench/matrix/matrix-quick.json
else
  rows=${MATRIX_ROWS:-300000} paced=${MATRIX_PACED_ROWS:-30000} batch=${MATRIX_BATCH:-1} out=bench/matrix/matrix.json
fi

# name factor speed_workers partitions flush batch_workers encoding [settings]
# partitions-16-nobound: 16 partitions leave night gaps over the speed
# layer's default --max-future (6 h) in the sparsest partitions, whose later
# events are then quarantined as "future"; the same cell without the bound
# measures what 16 partitions would do.
cells="baseline-1 baseline 2 8 500ms 2 arrow
speed-1 speed_workers 1 8 500ms 2 arrow
speed-4 speed_workers 4 8 500ms 2 arrow
partitions-4 partitions 2 4 500ms 2 arrow
partitions-16 partitions 2 16 500ms 2 arrow
partitions-16-nobound partitions-no-future-bound 2 16 500ms 2 arrow TRIBUTARY_MAX_FUTURE=-1s
flush-100ms flush_interval 2 8 100ms 2 arrow
baseline-2 baseline 2 8 500ms 2 arrow
flush-2s flush_interval 2 8 2s 2 arrow
batch-1 batch_workers 2 8 500ms 1 arrow
batch-4 batch_workers 2 8 500ms 4 arrow
json encoding 2 8 500ms 2 json
baseline-3 baseline 2 8 500ms 2 arrow"
if [ "$quick" = 1 ]; then
  cells=$(printf '%s\n' "$cells" | grep -E '^(baseline-1|speed-1|json) ')
fi
if [ -n "${MATRIX_CELLS:-}" ]; then
  cells=$(printf '%s\n' "$cells" | grep -E "^($(echo "$MATRIX_CELLS" | tr ' ,' '||')) ")
fi

go build -o bin/tributary ./cmd/tributary
go build -o bin/evalfeed ./tools/evalfeed
mkdir -p bench/matrix
tmp=$(mktemp -d)
restore() {
  # Back to the cluster's own prefixes and pool sizes.
  rm -f "$run/env.local"
  scripts/cluster.sh restart-roles >/dev/null || true
  rm -rf "$tmp"
}
trap restore EXIT
files=()
while read -r name factor sw parts flush bw enc settings; do
  /usr/bin/python3 scripts/eval_matrix.py cell "$name" "$factor" "$sw" "$parts" "$flush" "$bw" "$enc" "$rows" "$paced" "$batch" "$tmp/$name.json" "${settings:-}" < /dev/null
  files+=("$tmp/$name.json")
done <<< "$cells"
cmd="scripts/eval-matrix.sh"
[ "$quick" = 1 ] && cmd="MATRIX_QUICK=1 $cmd"
/usr/bin/python3 scripts/eval_matrix.py merge "$cmd" "$(git rev-parse --short HEAD)" "$out" "${files[@]}"
echo "matrix: results in $out"
/usr/bin/python3 - "$out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"{'cell':22} {'events/s':>9} {'p99 paced s':>11} {'batch s':>8} {'load1':>6} {'other cpu s':>11} refused")
for c in d["cells"]:
    if "error" in c:
        print(f"{c['name']:22} FAILED: {c['error']}")
        continue
    m, p, b = c["max"], c["paced"], c.get("batch", {})
    print(f"{c['name']:22} {m['events_per_s_applied']:>9} {str(p['event_to_view']['p99_s']):>11} {str(b.get('seconds', '-')):>8} "
          f"{m['window']['load1']['mean']:>6} {m['window']['other_cpu_seconds']:>11} {m['events_refused'] or ''}")
PY
