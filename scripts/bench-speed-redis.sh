#!/usr/bin/env bash
# Speed-layer catch-up benchmark with the real processes: 2 `tributary speed`
# workers (default flags) and `tributary replay --speed max` of ROWS flights,
# on fresh streams and a fresh key prefix. It prints the replay's time, how
# long after the replay's end every event is applied (sum of the partitions'
# applied+late+duplicates = ROWS), the events/s applied, and Redis's commands
# and CPU per 1,000 events (INFO commandstats / INFO cpu deltas over the run).
#
# Usage: set -a; . .run/env; set +a; scripts/bench-speed-redis.sh [ROWS] [BIN]
set -euo pipefail
rows=${1:-1000000}
bin=${2:-bin/tributary}
: "${TRIBUTARY_REDIS_URL:?source .run/env first}"
run=bsr$(date +%s)
export TRIBUTARY_KEY_PREFIX=$run TRIBUTARY_STREAM_PREFIX=$run.flights TRIBUTARY_METRICS_ADDR=
# redis-cli -u sends an empty user name with the password: pass them apart.
hostport=${TRIBUTARY_REDIS_URL#*@}; hostport=${hostport%%/*}
pw=${TRIBUTARY_REDIS_URL#redis://:}; pw=${pw%%@*}
rc() { REDISCLI_AUTH=$pw redis-cli -h "${hostport%:*}" -p "${hostport#*:}" "$@"; }
cpu() { rc info cpu | tr -d '\r' | awk -F: '/^used_cpu_(sys|user):/{s+=$2} END{printf "%.3f", s}'; }
calls() { rc info commandstats | tr -d '\r' | awk -F'[=,:]' '/^cmdstat_/{n+=$3} END{print n}'; }
applied() {
  local s=0 p v
  for p in 0 1 2 3 4 5 6 7; do
    v=$(rc hmget "$run:speed:{$p}:part" applied late duplicates | awk '{s+=$1} END{print s+0}')
    s=$((s + v))
  done
  echo "$s"
}
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
for i in 1 2; do "$bin" speed --worker-id "$run-$i" > "/tmp/$run.speed$i.log" 2>&1 & pids+=($!); done
sleep 3
rc config resetstat > /dev/null
cpu0=$(cpu); t0=$(date +%s.%N)
"$bin" replay --speed max --limit "$rows" > "/tmp/$run.replay.log" 2>&1
t1=$(date +%s.%N)
while [ "$(applied)" -lt "$rows" ]; do sleep 0.1; done
t2=$(date +%s.%N)
cpu1=$(cpu); n=$(calls)
echo "--- per-command calls over the run"
rc info commandstats | tr -d '\r' | grep '^cmdstat_' | sed 's/,usec_per_call.*//' | sort -t= -k2 -n -r | head -12
awk -v rows="$rows" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v c0="$cpu0" -v c1="$cpu1" -v n="$n" -v load="$(cut -d' ' -f1-3 /proc/loadavg)" 'BEGIN{
  printf "rows %d  replay %.2f s  all applied %.2f s after the replay end  applied %.0f events/s (from replay start)\n", rows, t1-t0, t2-t1, rows/(t2-t0)
  printf "redis: %.1f commands and %.2f ms CPU per 1,000 events (%.1f s CPU over %.1f s = %.0f%%)  load %s\n", n*1000/rows, (c1-c0)*1e6/rows, c1-c0, t2-t0, 100*(c1-c0)/(t2-t0), load }'
for k in $(rc --scan --pattern "$run:*" | head -100000); do echo "$k"; done | REDISCLI_AUTH=$pw xargs -r -n 500 redis-cli -h "${hostport%:*}" -p "${hostport#*:}" unlink > /dev/null
