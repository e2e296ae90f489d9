#!/usr/bin/env bash
# PROFILING AID (in process, not the headline: `make bench` measures the
# deployed processes; see docs/benchmarks.md).
# Scheduler benchmark (docs/benchmarks.md, section "Scheduler"): 10,000
# independent no-op tasks and a tree reduction of 1,000 leaves (fan-in 8)
# through raw asynq, Tributary and Dask distributed, in one run, RUNS times
# each (interleaved), printing every run then the medians and ratios.
# Needs the services (make services) and installs python3-distributed.
set -euo pipefail
cd "$(dirname "$0")/.."
set -a; [ -f .run/env ] && . .run/env; set +a
RUNS=${RUNS:-3}
TASKS=${TASKS:-10000}
LEAVES=${LEAVES:-1000}
FANIN=${FANIN:-8}
# asynq concurrency of raw asynq and of the Tributary worker (which runs one
# asynq server per 8 of it, see workers.Config.Processors).
CONC=${CONC:-24}
# BASELINE_BIN: optionally, a bench-scheduler built from another revision,
# run as "before" with its own defaults (e.g. git archive HEAD | tar -x -C
# /tmp/old && (cd /tmp/old && go build -o /tmp/bench-old ./bench/scheduler)).
BASELINE_BIN=${BASELINE_BIN:-}

if ! /usr/bin/python3 -c 'import distributed' 2>/dev/null; then
  TRIBUTARY_EXTRA_PKGS="python3-distributed ${TRIBUTARY_EXTRA_PKGS:-}" scripts/deps.sh
fi
go build -o bin/bench-scheduler ./bench/scheduler
out=$(mktemp)
for r in $(seq "$RUNS"); do
  for sys in raw tributary raw-3p before; do
    case $sys in
      raw-3p) cmd=(bin/bench-scheduler -system raw -processors 3 -label raw-3p -concurrency "$CONC") ;;
      before) [ -n "$BASELINE_BIN" ] || continue; cmd=("$BASELINE_BIN" -system tributary) ;;
      *) cmd=(bin/bench-scheduler -system $sys -concurrency "$CONC") ;;
    esac
    "${cmd[@]}" -shape independent -tasks "$TASKS" | sed "s/^tributary /$sys /" | tee -a "$out"
    "${cmd[@]}" -shape tree -leaves "$LEAVES" -fan-in "$FANIN" | sed "s/^tributary /$sys /" | tee -a "$out"
  done
  # Dask's nanny would set MALLOC_TRIM_THRESHOLD_; the script unsets it.
  env -u MALLOC_TRIM_THRESHOLD_ /usr/bin/python3 bench/scheduler_dask.py "$TASKS" "$LEAVES" "$FANIN" 2>/dev/null | tee -a "$out"
done
echo
echo "medians over $RUNS runs (tasks/s):"
/usr/bin/python3 - "$out" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) == 5:
        runs.setdefault((f[0], f[1]), []).append(float(f[4]))
med = {k: statistics.median(v) for k, v in runs.items()}
print(f"{'shape':<12}{'raw asynq':>12}{'raw-3p':>9}{'before':>9}{'tributary':>12}{'dask':>10}{'dask-tuned':>12}{'trib/raw':>10}{'trib/raw-3p':>13}{'trib/dask-tuned':>17}{'trib/dask':>11}")
for shape in ("independent", "tree"):
    g = lambda s: med.get((s, shape), float("nan"))
    t = g("tributary")
    print(f"{shape:<12}{g('raw'):>12.0f}{g('raw-3p'):>9.0f}{g('before'):>9.0f}{t:>12.0f}{g('dask'):>10.0f}{g('dask-tuned'):>12.0f}{t/g('raw'):>10.2f}{t/g('raw-3p'):>13.2f}{t/g('dask-tuned'):>17.2f}{t/g('dask'):>11.2f}")
PY
rm -f "$out"
