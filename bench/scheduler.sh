#!/usr/bin/env bash
# Scheduler benchmark (docs/benchmarks-scheduler.md), in the shape
# users run: one `tributary scheduler` and WORKERS (2) `tributary worker`
# processes at their default flags, `tributary graph bench` submitting over
# HTTP 10,000 independent no-op tasks and a tree reduction of 1,000 leaves
# (fan-in 8, 1,144 tasks); in the same run, raw asynq v0.26.0 with as many
# processes (bench/scheduler -system raw -procs: one asynq server each,
# their no-op handler, the bench process enqueueing from 8 goroutines) and
# Dask distributed (bench/scheduler_dask.py: LocalCluster of 2 single-threaded
# workers, out of the box and tuned with worker-saturation inf, the nanny's
# MALLOC_TRIM_THRESHOLD_ unset). RUNS rounds, interleaved; every figure is
# printed with the load average, then the medians and the ratios.
#
#   make services && RUNS=3 bench/scheduler.sh
#
# Environment: RUNS (3), TASKS (10000), LEAVES (1000), FANIN (8), WORKERS (2),
# RAW_CONC (asynq concurrency of each raw process, 8), WORKER_FLAGS (extra
# flags of the workers, e.g. "--concurrency 24": default none), GRAPH_FLAGS
# (extra flags of graph bench, e.g. "--func spin --args 50000000" for
# CPU-bound tasks), BASELINE_BIN
# (a bin/tributary built from another revision, run as "before" with its own
# defaults), SCHED_ADDR (127.0.0.1:8090: the scheduler's HTTP address),
# REDIS_STATS=1 (print Redis CPU and calls per task of each Tributary figure),
# PROFILE_DIR (if set, the scheduler and each worker write a CPU profile there), SYSTEMS
# (which of "raw tributary dask" to run: all),
# JSON (if set, the medians and ratios are also written there as JSON).
# Needs the services (make services); installs python3-distributed.
set -euo pipefail
cd "$(dirname "$0")/.."
set -a; [ -f .run/env ] && . .run/env; set +a
RUNS=${RUNS:-3}
TASKS=${TASKS:-10000}
LEAVES=${LEAVES:-1000}
FANIN=${FANIN:-8}
WORKERS=${WORKERS:-2}
RAW_CONC=${RAW_CONC:-8}
WORKER_FLAGS=${WORKER_FLAGS:-}
GRAPH_FLAGS=${GRAPH_FLAGS:-}
BASELINE_BIN=${BASELINE_BIN:-}
SCHED_ADDR=${SCHED_ADDR:-127.0.0.1:8090}
PROFILE_DIR=${PROFILE_DIR:-}
SYSTEMS=${SYSTEMS:-raw tributary dask}
has() { [[ " $SYSTEMS " == *" $1 "* ]]; }
JSON=${JSON:-}
REDIS_STATS=${REDIS_STATS:-}

if has dask && ! /usr/bin/python3 -c 'import distributed' 2>/dev/null; then
  TRIBUTARY_EXTRA_PKGS="python3-distributed ${TRIBUTARY_EXTRA_PKGS:-}" scripts/deps.sh
fi
go build -o bin/tributary ./cmd/tributary
go build -o bin/bench-scheduler ./bench/scheduler
out=$(mktemp)
logs=$(mktemp -d)
pids=()
stop_all() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
trap 'stop_all; rm -rf "$out" "$logs"' EXIT

# redis_delta SNAPSHOT TASKS: Redis CPU and script calls per task since SNAPSHOT.
redis_delta() {
  bin/bench-scheduler -system redis-snapshot >"$logs/after"
  /usr/bin/python3 - "$1" "$logs/after" "$2" <<'PY'
import sys
a = dict(l.split() for l in open(sys.argv[1]))
b = dict(l.split() for l in open(sys.argv[2]))
n = float(sys.argv[3])
d = lambda k: float(b.get(k, 0)) - float(a.get(k, 0))
print(f"  redis cpu {d('cpu') * 1e6 / n:.1f} µs/task;", ", ".join(
    f"{k[:-6]} {d(k) / n:.2f} calls {d(k[:-6] + '.usec') / n:.1f} µs" for k in sorted(b) if k.endswith('.calls') and d(k) > 0))
PY
}
# cpu_ticks PID...: user+system CPU of the processes so far, in clock ticks.
cpu_ticks() {
  local t=0 p f
  for p in "$@"; do
    f=$(cut -d')' -f2 "/proc/$p/stat" 2>/dev/null) || continue
    t=$((t + $(awk '{print $12 + $13}' <<<"$f")))
  done
  echo "$t"
}
load() { cut -d' ' -f1 /proc/loadavg; }

# tributary LABEL BIN: a scheduler and WORKERS workers of BIN on a fresh key
# prefix, both shapes through `graph bench`, then everything stopped.
tributary() {
  local label=$1 bin=$2 prefix="bench-$RANDOM$RANDOM" i
  local flags=(--key-prefix "$prefix" --log-level warn)
  local sprof=()
  [ -n "$PROFILE_DIR" ] && [ "$label" = tributary ] && sprof=(--cpuprofile "$PROFILE_DIR/scheduler-$(date +%s%N).pprof")
  "$bin" "${flags[@]}" scheduler --http-addr "$SCHED_ADDR" "${sprof[@]}" >"$logs/$label-scheduler.log" 2>&1 &
  pids+=($!)
  for i in $(seq "$WORKERS"); do
    local prof=()
    [ -n "$PROFILE_DIR" ] && [ "$label" = tributary ] && prof=(--cpuprofile "$PROFILE_DIR/worker-$i-$(date +%s%N).pprof")
    # shellcheck disable=SC2086 # WORKER_FLAGS is a list of flags
    "$bin" "${flags[@]}" worker --metrics-addr "" $WORKER_FLAGS "${prof[@]}" >"$logs/$label-worker-$i.log" 2>&1 &
    pids+=($!)
  done
  # Ready when the scheduler answers and the workers advertise "noop".
  for i in $(seq 200); do
    if curl -fsS "http://$SCHED_ADDR/v1/functions" 2>/dev/null | grep -q '"noop": *'"$WORKERS"; then break; fi
    sleep 0.1
  done
  local g=("$bin" "${flags[@]}" graph --scheduler-url "http://$SCHED_ADDR" bench)
  local l r
  for shape in independent tree; do
    l=$(load)
    [ -n "$REDIS_STATS" ] && bin/bench-scheduler -system redis-snapshot >"$logs/before"
    local c0; c0=$(cpu_ticks "${pids[@]}")
    # shellcheck disable=SC2086 # GRAPH_FLAGS is a list of flags
    r=$("${g[@]}" --shape "$shape" --tasks "$([ $shape = tree ] && echo "$LEAVES" || echo "$TASKS")" --fan-in "$FANIN" $GRAPH_FLAGS 2>/dev/null | tail -1)
    echo "  $r" >&2
    # shape=... tasks=N submit=... total=... tasks_per_s=X
    echo "$label $shape $(sed -E 's/.*tasks=([0-9]+).*total=([^ ]+).*tasks_per_s=([0-9]+).*/\1 \2 \3/' <<<"$r") load=$l" | tee -a "$out"
    local n; n=$(cut -d' ' -f2 <<<"$r" | cut -d= -f2)
    if [ -n "$REDIS_STATS" ]; then
      echo "  scheduler+workers cpu $(( ($(cpu_ticks "${pids[@]}") - c0) * 1000000 / $(getconf CLK_TCK) / n )) µs/task"
      redis_delta "$logs/before" "$n"
    fi
  done
  stop_all
  bin/bench-scheduler -system cleanup -prefix "$prefix"
}

raw() {
  local l r
  for shape in independent tree; do
    l=$(load)
    r=$(bin/bench-scheduler -system raw -procs "$WORKERS" -concurrency "$RAW_CONC" -shape "$shape" -tasks "$TASKS" -leaves "$LEAVES" -fan-in "$FANIN")
    echo "$r load=$l" | tee -a "$out"
  done
}

for run in $(seq "$RUNS"); do
  echo "# run $run of $RUNS"
  has raw && raw
  has tributary && tributary tributary bin/tributary
  [ -n "$BASELINE_BIN" ] && tributary before "$BASELINE_BIN"
  if has dask; then
    l=$(load)
    # Dask's nanny would set MALLOC_TRIM_THRESHOLD_; the script unsets it.
    env -u MALLOC_TRIM_THRESHOLD_ /usr/bin/python3 bench/scheduler_dask.py "$TASKS" "$LEAVES" "$FANIN" 2>/dev/null | sed "s/\$/ load=$l/" | tee -a "$out"
  fi
done
echo
echo "medians over $RUNS runs (tasks/s; $WORKERS processes each; load average 1 min at each figure above):"
/usr/bin/python3 - "$out" "$JSON" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) >= 5 and f[4].replace('.', '', 1).isdigit():
        runs.setdefault((f[0], f[1]), []).append(float(f[4]))
med = {k: statistics.median(v) for k, v in runs.items()}
res = {}
print(f"{'shape':<12}{'tributary':>10}{'before':>8}{'raw asynq':>10}{'dask':>7}{'dask-tuned':>11}{'trib/raw':>9}{'trib/dask-tuned':>16}{'trib/dask':>10}")
for shape in ("independent", "tree"):
    g = lambda s: med.get((s, shape), float("nan"))
    t = g("tributary")
    print(f"{shape:<12}{t:>10.0f}{g('before'):>8.0f}{g('raw'):>10.0f}{g('dask'):>7.0f}{g('dask-tuned'):>11.0f}{t/g('raw'):>9.2f}{t/g('dask-tuned'):>16.2f}{t/g('dask'):>11.2f}")
    res[shape] = {s: g(s) for s in ("tributary", "before", "raw", "dask", "dask-tuned")}
    res[shape]["runs"] = {s: v for (s, sh), v in runs.items() if sh == shape}
if sys.argv[2]:
    json.dump(res, open(sys.argv[2], "w"), indent=1, default=lambda x: None)
PY
