#!/usr/bin/env bash
# Elasticity on make cluster: tributary autoscale sizes the speed workers
# while replay runs a load profile (quiet, peak, quiet: --speed values), and a
# sampler records lag, speed workers and events/s applied every second.
#
#   scripts/eval-elasticity.sh [short|full|day]   (needs make cluster up)
#
#   short  quiet 20 s, peak 30 s, quiet 70 s (~2.5 min)
#   full   quiet 60 s, peak 120 s, quiet 300 s (~8 min)
#   day    a compressed day: quiet night 180 s, morning ramp 120 s, peak
#          150 s at --speed 75000 (about 14,000 events/s offered: more than
#          one worker applied on this machine), evening ramp down 120 s,
#          night 300 s (~15 min; about 2.8 M of the 3 M flights)
#
# The lag is in stream messages (an Arrow message carries up to
# --batch-events events of one partition); the target is per worker.
# Writes bench/elasticity/elasticity-MODE.json: the profile, the samples,
# the reaction time (peak start -> first added worker; -> lag back under the
# target), and worker-seconds used against static provisioning for the peak.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mode=${1:-short}
run="${TRIBUTARY_CLUSTER_DIR:-$root/.run/cluster}"
[ -f "$run/env" ] || { echo "elasticity: no cluster: run make cluster" >&2; exit 1; }
set -a; . "$run/env"; set +a
base=$TRIBUTARY_CLUSTER_BASE_PORT
# The profile: one "NAME SPEED SECONDS" a line (replay --speed; a phase named
# peak is where the reaction time is measured from).
target=1000
case $mode in
  short) profile="quiet1 3000 20
peak 40000 30
quiet2 3000 70" ;;
  full) profile="quiet1 3000 60
peak 40000 120
quiet2 3000 300" ;;
  day) profile="night 3000 180
ramp-up 10000 120
peak 75000 150
ramp-down 10000 120
night2 3000 300" ;;
  *) echo "usage: $0 [short|full|day]" >&2; exit 2 ;;
esac
out=bench/elasticity/elasticity-$mode.json
mkdir -p bench/elasticity
tmp=$(mktemp -d)
producer="elastic-$(date +%s)"
as_metrics=127.0.0.1:$((base + 91))
cluster=scripts/cluster.sh

# stop_extra: the speed workers past the cluster's two (started by an autoscaler).
stop_extra() {
  local f
  for f in "$run"/pids/speed*.pid; do
    case $(basename "$f" .pid) in speed1 | speed2) ;; *) kill -TERM "$(cat "$f")" 2>/dev/null || true; rm -f "$f" ;; esac
  done
}

# Fresh key and stream prefixes (as make chaos does): no backlog of an
# earlier run, every role restarted on them, two speed workers to start with.
stop_extra
sfx=$(date +%s)
export TRIBUTARY_KEY_PREFIX="elastic-$sfx" TRIBUTARY_STREAM_PREFIX="elastic.$sfx"
printf "TRIBUTARY_KEY_PREFIX=%s\nTRIBUTARY_STREAM_PREFIX=%s\n" "$TRIBUTARY_KEY_PREFIX" "$TRIBUTARY_STREAM_PREFIX" > "$run/env.local"
"$cluster" restart-roles
bin/tributary streams declare >/dev/null
sleep 3

# The autoscaler: speed pool only (the batch pool sits idle during a replay).
bin/tributary autoscale --id autoscale1 --pools speed --speed-min 1 --speed-max 4 --speed-target "$target" \
  --cooldown 10s --down-after 20s --interval 2s --stop-timeout 20s --metrics-addr "$as_metrics" \
  --speed-metrics "127.0.0.1:$((base + 100)),127.0.0.1:$((base + 101))" \
  --cluster-dir "$run" --bin "$root/bin/tributary" >> "$run/logs/autoscale1.log" 2>&1 &
echo $! > "$run/pids/autoscale1.pid"
aspid=$!

python3 scripts/eval_sampler.py "$run" "$TRIBUTARY_SERVE_URL" "$tmp/samples.jsonl" &
spid=$!
trap 'kill $aspid $spid 2>/dev/null || true; rm -rf "$tmp"' EXIT

phase() { # phase NAME SPEED SECONDS [--reset]
  echo "$(date +%s.%N) $1 $2" >> "$tmp/phases"
  echo "elasticity: phase $1 (--speed $2) for $3 s"
  local rc=0
  timeout -s TERM "$3" bin/tributary replay --speed "$2" --producer "$producer" --metrics-addr "" "${@:4}" < /dev/null >> "$run/logs/elasticity-replay.log" 2>&1 || rc=$?
  # 124: ended by timeout, as planned; anything else ended the phase early.
  [ "$rc" = 124 ] || [ "$rc" = 0 ] || echo "elasticity: replay of phase $1 exited $rc (see $run/logs/elasticity-replay.log)" >&2
}
first=--reset
while read -r pname pspeed psecs; do
  # shellcheck disable=SC2086 # $first is empty or one word
  phase "$pname" "$pspeed" "$psecs" $first
  first=
done <<< "$profile"
echo "$(date +%s.%N) end 0" >> "$tmp/phases"
kill "$spid"; wait "$spid" 2>/dev/null || true
kill -TERM "$aspid"; wait "$aspid" 2>/dev/null || true
rm -f "$run/pids/autoscale1.pid"
# Back to the cluster's own prefixes and two speed workers; the run's
# streams and keys go (a Redis that grows with every run makes each
# failover and AOF load slower: make chaos failed after a day run left
# 2.5 M events of views behind).
stop_extra
bin/tributary streams delete >/dev/null 2>&1 || true
python3 -c 'import sys; sys.path.insert(0, "scripts"); import eval_matrix; eval_matrix.drop_keys(sys.argv[1], sys.argv[2])' "$run" "$TRIBUTARY_KEY_PREFIX" || true
rm -f "$run/env.local"
"$cluster" restart-roles

python3 scripts/eval_sampler.py --report "$tmp/samples.jsonl" "$tmp/phases" "$target" "$mode" "$(git rev-parse --short HEAD)" > "$out"
echo "elasticity: results in $out"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps(d["summary"], indent=1))' "$out"
