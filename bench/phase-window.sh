#!/usr/bin/env bash
# Where a phase's time goes, per process: runs one phase of bench/deployed
# (`make demo`'s processes, default flags) once per binary given, in that
# order (alternate them to compare), samples every process's CPU (/proc,
# every 50 ms) and Redis's INFO commandstats (every 100 ms), and prints, for
# each window of the phase, each process's CPU seconds and Redis's busiest
# commands:
#   batch: from the submission to the publication, and from the publication
#          to `batch run --wait`'s return;
#   speed: from the replay's start to its end, and from its end to every
#          partition's offset committed (the catch-up).
# A profiling aid for docs/benchmarks-batch.md and docs/benchmarks-speed.md;
# the headline figures are `make bench`'s.
#
#   bench/phase-window.sh batch bin/tributary /tmp/tributary-old bin/tributary /tmp/tributary-old
#   bench/phase-window.sh speed bin/tributary
#
# Needs `make services` (the private Redis of .run/env) and bin/bench-deployed.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .run/env ] || { echo "phase-window: run make services first" >&2; exit 1; }
set -a; . .run/env; set +a
phase=${1:-}
case $phase in batch | speed) shift ;; *) echo "usage: $0 batch|speed TRIBUTARY_BINARY..." >&2; exit 2 ;; esac
[ $# -gt 0 ] || { echo "usage: $0 batch|speed TRIBUTARY_BINARY..." >&2; exit 2; }
out=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$out"' EXIT
port=$(/usr/bin/python3 -c 'import sys, urllib.parse as u; print(u.urlparse(sys.argv[1]).port)' "$TRIBUTARY_REDIS_URL")
pw=$(/usr/bin/python3 -c 'import sys, urllib.parse as u; print(u.unquote(u.urlparse(sys.argv[1]).password or ""))' "$TRIBUTARY_REDIS_URL")
sample_cpu() { # "time pid utime stime" lines; names in $out/names/<pid>
  mkdir -p "$out/names"
  while true; do
    local t p line; t=$(date +%s.%N)
    for p in $(pgrep -f 'redis-server|tributary|beam.smp'); do
      [ -f "$out/names/$p" ] || tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | cut -c1-80 > "$out/names/$p" || true
      read -r line < "/proc/$p/stat" 2>/dev/null || continue
      set -- ${line#*) }
      echo "$t $p ${12} ${13}"
    done
    sleep 0.05
  done
}
sample_redis() { # "time command calls usec" lines
  while true; do
    local t; t=$(date +%s.%N)
    REDISCLI_AUTH="$pw" redis-cli -p "$port" INFO commandstats 2>/dev/null | tr -d '\r' |
      sed -n "s/^cmdstat_\([^:]*\):calls=\([0-9]*\),usec=\([0-9]*\),.*/$t \1 \2 \3/p"
    sleep 0.1
  done
}
for b in "$@"; do
  sample_cpu > "$out/cpu.txt" & cpu=$!
  sample_redis > "$out/redis.txt" & red=$!
  bin/bench-deployed -bin "$b" -phases "$phase" -out "$out/results" -port-base 19400 > "$out/bench.log" 2>&1 ||
    { cat "$out/bench.log" >&2; exit 1; }
  kill "$cpu" "$red"; wait "$cpu" "$red" 2>/dev/null || true
  dir=$(ls -td .run/bench/*/ | head -1)
  echo "$b: $(grep -o 'published after.*\|caught up .*' "$out/bench.log"), load $(cut -d' ' -f1 /proc/loadavg)"
  /usr/bin/python3 - "$dir" "$out" "$phase" <<'PY'
import collections, datetime, glob, json, os, re, sys
d, out, phase = sys.argv[1], sys.argv[2], sys.argv[3]
def at(pattern, *files):
    for f in files:
        for line in open(f):
            if pattern in line:
                t = re.search(r"time=(\S+)Z", line).group(1)
                return datetime.datetime.fromisoformat(t).replace(tzinfo=datetime.timezone.utc).timestamp()
if phase == "batch":
    sub = at("recompute submitted", d + "/batch-run.log")
    rec = at("reconciled", d + "/batch-run.log")
    pub = at("batch view published", *sorted(glob.glob(d + "/worker-*.log")))
    windows = (("submission -> publication", sub, pub), ("publication -> return", pub, rec))
else:
    start = at("replay starting", d + "/replay.log")
    end = at("replay done", d + "/replay.log")
    res = json.load(open(max(glob.glob(out + "/results/*.json"), key=os.path.getmtime)))
    caught = end + res["speed"]["behind_replay_end_s"]
    windows = (("replay start -> replay end", start, end), ("replay end -> caught up", end, caught))
names = {os.path.basename(f): open(f).read().split() for f in glob.glob(out + "/names/*")}
by = collections.defaultdict(list)
for line in open(out + "/cpu.txt"):
    f = line.split()
    if len(f) == 4:
        by[f[1]].append((float(f[0]), int(f[2]) + int(f[3])))
def cpu(pid, a, b):
    v = by[pid]
    x = [c for t, c in v if t <= a] or [v[0][1]]
    y = [c for t, c in v if t <= b] or [v[0][1]]
    return (y[-1] - x[-1]) / os.sysconf("SC_CLK_TCK")
snaps = collections.defaultdict(dict)
for line in open(out + "/redis.txt"):
    t, c, n, u = line.split()
    snaps[float(t)][c] = (int(n), int(u))
times = sorted(snaps)
def redis(a, b):
    A = next((snaps[t] for t in reversed(times) if t <= a), {})
    B = next((snaps[t] for t in reversed(times) if t <= b), {})
    rows = sorted(((B[c][1] - A.get(c, (0, 0))[1], B[c][0] - A.get(c, (0, 0))[0], c) for c in B), reverse=True)
    return " ".join(f"{c} {n} calls {u / 1e3:.0f} ms" for u, n, c in rows[:6] if u > 0)
for label, a, b in windows:
    procs = []
    for pid in by:
        c = cpu(pid, a, b)
        if c > 0.02:
            cmd = names.get(pid, ["?"])
            role = next((w for w in cmd[1:] if not w.startswith("-")), "") if "tributary" in cmd[0] else ""
            procs.append(f"{os.path.basename(cmd[0])} {role}: {c:.2f}")
    print(f"  {label}: {b - a:.2f} s; CPU s: " + ", ".join(procs))
    print(f"    Redis (scripts include their commands): {redis(a - 0.1, b + 0.1)}")
PY
done
