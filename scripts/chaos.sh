#!/usr/bin/env bash
# Fault scenarios on `make cluster`, each during a replay and each ending with
# an independent exactness check (tools/chaoscheck: Parquet file vs speed views).
#
#   scripts/chaos.sh short            the CI subset: redis-primary-kill rabbit-leader-kill speed-kill worker-kill
#                                     coverage-redis-kill
#   scripts/chaos.sh all              every scenario below
#   scripts/chaos.sh SCENARIO...      the named ones
#   CHAOS_KEEP=1 scripts/chaos.sh ... keep each scenario's streams and keys (post-mortem)
#
# Scenarios: redis-primary-kill redis-lagging-failover redis-full-restart rabbit-leader-kill rabbit-first-kill
#            rabbit-disk-alarm speed-kill speed-freeze speed-broker-cut archive-kill serve-kill scheduler-leader-kill
#            worker-kill coverage-redis-kill
#
# The scenarios with a batch run (scheduler-leader-kill, worker-kill,
# coverage-redis-kill) also check the TTLs the speed layer's coverage duty
# gives after it (chaoscheck -coverage).
#
# Each scenario runs on fresh key and stream prefixes (the roles are restarted
# with them), replays CHAOS_ROWS flights (default 100000) at CHAOS_SPEED (default
# 20000 x real time: about 30 s), injects its fault CHAOS_AT seconds in (default 8),
# measures the recovery, waits for the replay to end, checks, and writes
# .run/chaos/RESULTS/<scenario>.json. It exits 1 if any scenario was not exact.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cluster=scripts/cluster.sh
run="${TRIBUTARY_CLUSTER_DIR:-$root/.run/cluster}"
[ -f "$run/env" ] || { echo "chaos: no cluster: run make cluster first" >&2; exit 1; }
set -a; . "$run/env"; set +a
bin=bin/tributary
rows=${CHAOS_ROWS:-100000}
speed=${CHAOS_SPEED:-20000}
at=${CHAOS_AT:-8}
results="${CHAOS_RESULTS:-$root/.run/chaos/$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$results"
go build -o bin/chaoscheck ./tools/chaoscheck

PW=$(cat "$run/redis.secret")
base=$TRIBUTARY_CLUSTER_BASE_PORT
SENTINEL=$((base + 50))
rcli() { REDISCLI_AUTH="$PW" redis-cli -h 127.0.0.1 -p "$1" "${@:2}"; }
now() { date +%s.%N; }
primary_port() { rcli "$SENTINEL" sentinel get-master-addr-by-name tributary 2>/dev/null | sed -n 2p; }
primary_name() { case $(primary_port) in $((base + 40))) echo redis1 ;; $((base + 41))) echo redis2 ;; esac; }
status_json() { "$cluster" status; }
log() { echo "chaos: $*" >&2; }

# wait_until TIMEOUT CMD...: poll CMD every 0.2 s; print the seconds it took (or fail).
wait_until() {
  local timeout=$1 t0; shift
  t0=$(now)
  while ! "$@" >/dev/null 2>&1; do
    if awk -v a="$(now)" -v b="$t0" -v t="$timeout" 'BEGIN { exit !(a - b > t) }'; then echo "null"; return 1; fi
    sleep 0.2
  done
  awk -v a="$(now)" -v b="$t0" 'BEGIN { printf "%.3f\n", a - b }'
}

# --- probes of recovery -----------------------------------------------------
redis_recovered() { # a new primary answers writes
  local p; p=$(primary_port); [ -n "$p" ] && [ "$p" != "$1" ] && rcli "$p" set chaos:probe 1 | grep -q OK
}
rabbit_recovered() { # every stream has a leader on a live node
  local out
  out=$(/usr/bin/env HOME="$run/rabbit-home" ERL_EPMD_PORT=$((base + 20)) /usr/lib/rabbitmq/bin/rabbitmqctl -q -n "$2@localhost" \
    list_queues name leader --formatter json 2>/dev/null) || return 1
  echo "$out" | /usr/bin/python3 -c '
import json, sys
qs = [q for q in json.load(sys.stdin) if q["name"].startswith(sys.argv[1] + ".")]
sys.exit(0 if qs and all(q.get("leader") and q["leader"] != sys.argv[2] + "@localhost" for q in qs) else 1)' "$TRIBUTARY_STREAM_PREFIX" "$1"
}
leases_owned_by_other() { # every partition's lease is held, none by the dead worker
  local p v port; port=$(primary_port)
  for p in 0 1 2 3 4 5 6 7; do
    v=$(rcli "$port" get "$TRIBUTARY_KEY_PREFIX:speed:{$p}:lease" 2>/dev/null)
    [ -n "$v" ] && [[ $v != "$1|"* ]] || return 1
  done
}
archive_leases_owned_by_other() { # every partition's archive lease is held, none by the dead archiver
  local p v port; port=$(primary_port)
  for p in 0 1 2 3 4 5 6 7; do
    v=$(rcli "$port" get "$TRIBUTARY_KEY_PREFIX:batch:archive:{$p}:lease" 2>/dev/null)
    [ -n "$v" ] && [[ $v != "$1|"* ]] || return 1
  done
}
archived_events() { # events committed by the archivers, all partitions
  "$bin" batch status 2>/dev/null | /usr/bin/python3 -c '
import json, sys
print(sum(p["events"] for p in json.load(sys.stdin).get("archive", {}).get("partitions", [])))'
}
archive_complete() { [ "$(archived_events)" = "$rows" ]; }
applied_sum() { # events applied to the speed views, summed over the partitions, on one Redis
  local p t=0 v; for p in 0 1 2 3 4 5 6 7; do
    v=$(rcli "$1" hget "$TRIBUTARY_KEY_PREFIX:speed:{$p}:part" applied 2>/dev/null); t=$((t + ${v:-0}))
  done; echo "$t"
}
speed_counters() { # the speed partitions' committed totals (applied, late, duplicates, quarantined), summed, as JSON
  local p f t v; local -A sum=([applied]=0 [late]=0 [duplicates]=0 [quarantined]=0)
  for p in 0 1 2 3 4 5 6 7; do
    for f in applied late duplicates quarantined; do
      v=$(rcli "$1" hget "$TRIBUTARY_KEY_PREFIX:speed:{$p}:part" "$f" 2>/dev/null); sum[$f]=$((sum[$f] + ${v:-0}))
    done
  done
  # Refills (events behind the watermark applied because they filled a seq
  # gap: republished after a broker failure) are only in the workers' metrics.
  local refilled=0 i
  for i in 0 1; do
    v=$(curl -fsS -m 2 "http://127.0.0.1:$((base + 100 + i))/metrics" 2>/dev/null | awk '$1 == "tributary_speed_refilled_events_total" { printf "%d", $2 }')
    refilled=$((refilled + ${v:-0}))
  done
  printf '{"applied": %d, "late": %d, "duplicates": %d, "quarantined": %d, "refilled_seen_by_live_workers": %d}' \
    "${sum[applied]}" "${sum[late]}" "${sum[duplicates]}" "${sum[quarantined]}" "$refilled"
}
replica_synced() { # the other Redis node replicates the primary Sentinel names, link up
  local p r info; p=$(primary_port); [ -n "$p" ] || return 1
  r=$((base + 40)); [ "$p" = "$r" ] && r=$((base + 41))
  info=$(rcli "$r" info replication 2>/dev/null | tr -d '\r')
  grep -q '^master_link_status:up$' <<< "$info" && grep -q "^master_port:$p\$" <<< "$info"
}
redis_writable() { # the primary Sentinel names answers writes
  local p; p=$(primary_port); [ -n "$p" ] && rcli "$p" set chaos:probe 1 | grep -q OK
}
progressed() { # the speed views applied more events than $1
  local p n; p=$(primary_port); [ -n "$p" ] || return 1
  n=$(applied_sum "$p"); [ "$n" -gt "$1" ]
}
rctl() { # rctl N ARGS...: rabbitmqctl against node rabbitN of the cluster
  local n=$1; shift
  /usr/bin/env HOME="$run/rabbit-home" ERL_EPMD_PORT=$((base + 20)) /usr/lib/rabbitmq/bin/rabbitmqctl -q -n "rabbit$n@localhost" "$@"
}
http_ok() { curl -fsS -m 2 -o /dev/null "$1"; }
leader_is_not() { # the scheduler leader is another replica
  local i; for i in 0 1; do
    curl -fsS -m 2 "http://127.0.0.1:$((base + 80 + i))/v1/leader" 2>/dev/null | grep -q '"is_leader":true' && [ "scheduler$((i + 1))" != "$1" ] && return 0
  done; return 1
}

# --- one scenario -------------------------------------------------------------
scenario() {
  local name=$1 sfx
  sfx=$(date +%s)
  export TRIBUTARY_KEY_PREFIX="chaos-$name-$sfx" TRIBUTARY_STREAM_PREFIX="chaos.$name.$sfx"
  printf "TRIBUTARY_KEY_PREFIX=%s\nTRIBUTARY_STREAM_PREFIX=%s\n" "$TRIBUTARY_KEY_PREFIX" "$TRIBUTARY_STREAM_PREFIX" > "$run/env.local"
  log "$name: restarting the roles on prefix $TRIBUTARY_KEY_PREFIX"
  "$cluster" restart-roles
  # speed-broker-cut needs speed1 in a network namespace of its own.
  [ "$name" = speed-broker-cut ] && "$cluster" netns-start speed1
  "$bin" streams declare >/dev/null
  sleep 3
  # A failover onto a replica that does not replicate loses everything
  # since it stopped: no scenario is valid without one in sync.
  local replica_ok=True
  wait_until 60 replica_synced >/dev/null || { replica_ok=False; log "$name: the Redis replica is not replicating the primary"; }
  log "$name: replaying $rows flights at ${speed}x"
  local rlog="$results/$name.replay.log" t0 action target recovery="null" extra='{}'
  "$bin" replay --limit "$rows" --speed "$speed" --metrics-addr "" > "$rlog" 2>&1 &
  local replay=$!
  t0=$(now)
  sleep "$at"
  local fault_at fault_t; fault_at=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ); fault_t=$(now)
  case $name in
    redis-primary-kill)
      target=$(primary_name); local old; old=$(primary_port)
      action="SIGKILL of the Redis primary $target; Sentinel fails over; $target restarted 10 s later"
      "$cluster" kill "$target" KILL
      recovery=$(wait_until 60 redis_recovered "$old") || true
      sleep 10; "$cluster" start "$target" ;;
    redis-lagging-failover)
      # The replica stops replicating (wrong masterauth, link killed) for 3 s;
      # then the primary dies: the promoted replica lacks the last 3 s of
      # writes, which the pipeline must redo without loss or double count.
      target=$(primary_name); local old replica applied_before applied_after
      old=$(primary_port); replica=$((base + 40)); [ "$old" = "$replica" ] && replica=$((base + 41))
      action="replica cut from the primary for 3 s, then SIGKILL of the Redis primary $target: the promoted replica misses the last writes"
      rcli "$replica" config set masterauth chaos-wrong-password >/dev/null
      rcli "$replica" client kill type master >/dev/null
      sleep 3
      applied_before=$(applied_sum "$old")
      "$cluster" kill "$target" KILL
      recovery=$(wait_until 60 redis_recovered "$old") || true
      rcli "$replica" config set masterauth "$PW" >/dev/null
      # Sentinel's failover rewrote the node's file with the wrong password:
      # write it again, or the node, restarted as a replica, never syncs.
      rcli "$replica" config rewrite >/dev/null
      applied_after=$(applied_sum "$replica")
      extra="{\"applied_before_kill\": ${applied_before:-null}, \"applied_after_failover\": ${applied_after:-null}}"
      sleep 10; "$cluster" start "$target" ;;
    redis-full-restart)
      # Every Redis process at once (a power cut of the Redis hosts): both
      # data nodes restart from their AOF (appendfsync everysec: up to the
      # last second of writes may be gone, as in a lagging failover).
      target="redis1 redis2 sentinel1 sentinel2 sentinel3"
      action="SIGKILL of both Redis data nodes and the 3 Sentinels at once; all restarted 3 s later"
      local r; for r in $target; do "$cluster" kill "$r" KILL || true; done
      sleep 3
      local t_start; t_start=$(now)
      for r in $target; do "$cluster" start "$r"; done
      local w; w=$(wait_until 60 redis_writable) || true
      recovery=$(awk -v a="$t_start" -v b="$fault_t" -v w="${w:-0}" 'BEGIN { printf "%.3f", a - b + w }')
      extra="{\"redis_down_seconds\": 3, \"writable_after_restart_seconds\": ${w:-null}}" ;;
    rabbit-disk-alarm)
      # The disk alarm of one node blocks every publisher of the cluster
      # (connection.blocked) until it clears; consumers go on.
      target=rabbit1; local hold=15 before during
      action="disk free limit of rabbit1 set above the free space (disk alarm) for $hold s, then set back"
      local free; free=$(df -B1 --output=avail "$run/rabbit1" | tail -1)
      rctl 1 set_disk_free_limit $((free + (10 << 30))) >/dev/null
      local alarmed=false; for _ in $(seq 1 25); do rctl 1 eval 'rabbit_alarm:get_alarms().' 2>/dev/null | grep -q disk && { alarmed=true; break; }; sleep 0.2; done
      sleep "$hold"
      before=$(applied_sum "$(primary_port)")
      rctl 1 set_disk_free_limit 200MB >/dev/null
      recovery=$(wait_until 60 progressed "$before") || true
      extra="{\"alarm_seen\": $alarmed, \"alarm_seconds\": $hold, \"applied_when_cleared\": ${before:-null}}" ;;
    speed-broker-cut)
      target=speed1; local cut=25
      action="speed1 (in its own network namespace) cut from the 3 RabbitMQ nodes (packets blackholed, Redis still reachable) for $cut s, then healed"
      "$cluster" cut speed1
      recovery=$(wait_until 60 leases_owned_by_other speed1) || true
      sleep "$(awk -v c="$cut" -v r="${recovery/null/$cut}" 'BEGIN { s = c - r; print (s > 0 ? s : 0) }')"
      "$cluster" heal speed1 ;;
    rabbit-leader-kill)
      target=$("$cluster" status | /usr/bin/python3 -c '
import json, sys
nodes = [p for p in json.load(sys.stdin) if p["kind"] == "rabbitmq" and p["alive"]]
print(max(nodes, key=lambda p: len((p["role"] or "").split(",")) if "no stream" not in (p["role"] or "") else 0)["name"])')
      local other=rabbit2; [ "$target" = rabbit2 ] && other=rabbit1
      action="SIGKILL of the RabbitMQ node $target (leading most streams); restarted 15 s later"
      "$cluster" kill "$target" KILL
      recovery=$(wait_until 90 rabbit_recovered "$target" "$other") || true
      sleep 15; "$cluster" start "$target" ;;
    rabbit-first-kill)
      target=rabbit1; action="SIGKILL of rabbit1, the first node of every --amqp-url list (the replayer and the workers are connected to it); restarted 15 s later"
      "$cluster" kill rabbit1 KILL
      recovery=$(wait_until 90 rabbit_recovered rabbit1 rabbit2) || true
      sleep 15; "$cluster" start rabbit1 ;;
    speed-kill)
      target=speed1; action="SIGKILL of speed worker speed1; restarted 10 s later"
      "$cluster" kill speed1 KILL
      recovery=$(wait_until 60 leases_owned_by_other speed1) || true
      sleep 10; "$cluster" start speed1 ;;
    speed-freeze)
      target=speed1; action="SIGSTOP of speed worker speed1 for 15 s (3 lease TTLs), then SIGCONT"
      "$cluster" kill speed1 STOP
      recovery=$(wait_until 60 leases_owned_by_other speed1) || true
      sleep 15; "$cluster" kill speed1 CONT ;;
    archive-kill)
      target=archive1; action="SIGKILL of archiver archive1; restarted 5 s after archive2 took its partitions"
      "$cluster" kill archive1 KILL
      recovery=$(wait_until 60 archive_leases_owned_by_other archive1) || true
      sleep 5; "$cluster" start archive1 ;;
    serve-kill)
      target=serve1; action="SIGKILL of server serve1 behind HAProxy; restarted 10 s later"
      "$cluster" kill serve1 KILL
      recovery=$(wait_until 30 http_ok "$TRIBUTARY_SERVE_URL/healthz") || true
      sleep 10; "$cluster" start serve1 ;;
    scheduler-leader-kill)
      target=""
      action="SIGKILL of the leading scheduler during batch run --wait"
      ;;
    coverage-redis-kill)
      target=""
      action="SIGKILL of the Redis primary and SIGSTOP of its replica for 6 s, as soon as batch run --wait returns: the speed workers' coverage duty (every 5 s) is due to give the covered hours their TTL; the replica is then promoted, the old primary restarted 5 s later"
      ;;
    worker-kill)
      target=""
      action="SIGKILL of batch worker worker1 as soon as it logs the start of the reconciliation, during batch run --wait (worker2 frozen until then, so that worker1 runs the graph); restarted 10 s later"
      ;;
    *) echo "chaos: unknown scenario $name" >&2; kill "$replay"; return 2 ;;
  esac
  local replay_rc=0
  wait "$replay" || replay_rc=$?
  log "$name: replay exited $replay_rc; checking"
  local batch_scenario=false
  case $name in scheduler-leader-kill | worker-kill | coverage-redis-kill) batch_scenario=true ;; esac
  if [ "$batch_scenario" = true ] || [ "$name" = archive-kill ]; then
    # The archivers cut a segment 30 s after its first event at the latest.
    log "$name: waiting for the archive to hold the $rows events"
    local took; took=$(wait_until 180 archive_complete) || true
    extra="{\"archived_events\": $(archived_events || echo null), \"archive_complete_after_replay_seconds\": $took}"
  fi
  if [ "$name" = scheduler-leader-kill ]; then
    local blog="$results/$name.batch.log" brc=0 leader
    "$bin" batch run --wait > "$blog" 2>&1 &
    local batch=$!
    sleep 3
    leader=$("$cluster" status | /usr/bin/python3 -c '
import json, sys
print(next((p["name"] for p in json.load(sys.stdin) if p["kind"] == "scheduler" and p["role"] == "leader"), ""))')
    target=$leader; fault_at=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
    [ -n "$leader" ] && "$cluster" kill "$leader" KILL
    recovery=$(wait_until 60 leader_is_not "$leader") || true
    wait "$batch" || brc=$?
    [ -n "$leader" ] && "$cluster" start "$leader"
    extra="${extra%\}}, \"batch_run_exit\": $brc}"
  fi
  if [ "$name" = worker-kill ]; then
    # The batch worker that holds the reconciliation dies in it: the
    # leading scheduler's sweeper sees its heartbeat lapse and dispatches
    # the task again (asynq's lease expiry would, later), the other worker
    # (or worker1 restarted) runs it over the same hours, and the report
    # must cover the current version with no difference.
    local blog="$results/$name.batch.log" brc=0 wlog="$run/logs/worker1.log" lines started=false interrupted=false
    local fifo="$run/worker-kill.fifo" tailpid t_kill
    lines=$(wc -l < "$wlog")
    rm -f "$fifo"; mkfifo "$fifo"
    tail -n +$((lines + 1)) -F "$wlog" > "$fifo" 2>/dev/null &
    tailpid=$!
    "$cluster" kill worker2 STOP
    "$bin" batch run --wait > "$blog" 2>&1 &
    local batch=$!
    # No "$cluster kill" here: its start-up would give worker1 time to end.
    if timeout 120 grep -m1 -q 'msg="reconciliation started"' < "$fifo"; then
      kill -KILL "$(cat "$run/pids/worker1.pid")"; started=true
    fi
    t_kill=$(now); target=worker1; fault_at=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
    kill "$tailpid" 2>/dev/null || true; rm -f "$fifo"
    "$cluster" kill worker2 CONT
    # (grep without -q reads to the end: no SIGPIPE for pipefail to see)
    tail -n +$((lines + 1)) "$wlog" | grep 'msg="reconciliation done"' >/dev/null || interrupted=$started
    sleep 10; "$cluster" start worker1
    wait "$batch" || brc=$?
    # Recovery: from the kill to the report of the reconciliation run again.
    local report; report=$("$bin" batch status 2>/dev/null | /usr/bin/python3 -c '
import datetime, json, sys
st = json.load(sys.stdin)
r, cur = st.get("reconcile") or {}, (st.get("current") or {}).get("version")
ok = (r.get("version") == cur and r.get("buckets", 0) > 0 and r.get("count_mismatches") == 0
      and r.get("stats_mismatches") == 0 and r.get("missing_in_speed") == 0 and r.get("extra_in_speed") == 0)
at = datetime.datetime.fromisoformat(r["at"][:26].rstrip("Z") + "+00:00").timestamp() if r.get("at") else None
print(json.dumps({"reconcile_report": r, "reconcile_exact": ok,
                  "reconciled_after_kill_seconds": round(at - float(sys.argv[1]), 3) if at else None}))' "$t_kill") ||
      report='{"reconcile_exact": false}'
    recovery=$(echo "$report" | /usr/bin/python3 -c 'import json, sys; v = json.load(sys.stdin).get("reconciled_after_kill_seconds"); print("null" if v is None else v)')
    extra="${extra%\}}, \"batch_run_exit\": $brc, \"reconcile_started_on_worker1\": $started, \"killed_before_it_ended\": $interrupted, ${report#\{}"
  fi
  if [ "$name" = coverage-redis-kill ]; then
    # The reconciliation's report is written (and replicated); the speed
    # workers' next coverage step (every 5 s) falls due with Redis down: the
    # primary is killed and its replica frozen for 6 s, so that no failover
    # ends sooner. A worker's round stops at its failed heartbeat, so the
    # step waits for the new primary; it must then give every covered
    # hour's TTL and no later one's (chaoscheck -coverage), though the
    # leases lapsed and the partitions changed hands meanwhile.
    local blog="$results/$name.batch.log" brc=0 old replica t_batch
    t_batch=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
    "$bin" batch run --wait > "$blog" 2>&1 || brc=$?
    target=$(primary_name); old=$(primary_port)
    replica=redis1; [ "$target" = redis1 ] && replica=redis2
    fault_at=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ); fault_t=$(now)
    "$cluster" kill "$target" KILL
    "$cluster" kill "$replica" STOP
    sleep 6
    "$cluster" kill "$replica" CONT
    local w; w=$(wait_until 60 redis_recovered "$old") || true
    recovery=$(awk -v a="$(now)" -v b="$fault_t" -v w="$w" 'BEGIN { if (w == "null") print "null"; else printf "%.3f", a - b }')
    sleep 5; "$cluster" start "$target"
    # Evidence that the fault met the duty: no step gave TTLs between the
    # report and the kill (else the fault came too late to matter), and
    # when the first one did after it.
    local logs=("$run/logs/speed1.log" "$run/logs/speed2.log") before first after=null
    before=$(cat "${logs[@]}" 2>/dev/null | awk -v a="time=$t_batch" -v b="time=$fault_at" '$1 >= a && $1 < b && /msg="covered hours expired"/' | wc -l)
    first=$(cat "${logs[@]}" 2>/dev/null | awk -v t="time=$fault_at" '$1 >= t && /msg="covered hours expired"/ { print substr($1, 6) }' | sort | head -1)
    [ -n "$first" ] && after=$(awk -v a="$(date -d "$first" +%s.%N)" -v b="$fault_t" 'BEGIN { printf "%.3f", a - b }')
    target="$target (replica $replica frozen 6 s)"
    extra="${extra%\}}, \"batch_run_exit\": $brc, \"coverage_steps_before_fault\": $before, \"first_coverage_step_after_fault_seconds\": $after}"
  fi
  local check="$results/$name.check.json" crc=0 cover=""
  [ "$batch_scenario" = true ] && cover=-coverage
  bin/chaoscheck -rows "$rows" -prefix "$TRIBUTARY_KEY_PREFIX" -wait 4m -settle 45s $cover > "$check" || crc=$?
  # The speed partitions' own counters, the evidence when the check fails.
  local counters; counters=$(speed_counters "$(primary_port)") || counters='{}'
  if [ "$extra" = '{}' ]; then extra="{\"speed_counters\": $counters}"; else extra="${extra%\}}, \"speed_counters\": $counters}"; fi
  /usr/bin/python3 - "$results/$name.json" "$check" <<PY
import json, sys
check = json.load(open(sys.argv[2])) if open(sys.argv[2]).read().strip() else {}
extra = json.loads('''$extra''')
ok = check.get("exact", False) and $replay_rc == 0 and extra.get("batch_run_exit", 0) == 0 \
    and extra.get("archived_events", $rows) == $rows and extra.get("alarm_seen", True) \
    and extra.get("reconcile_exact", True) and extra.get("reconcile_started_on_worker1", True) and $replica_ok
res = {"scenario": "$name", "action": "$action", "target": "$target", "at": "$fault_at",
       "recovery_seconds": $recovery if "$recovery" not in ("", "null") else None,
       "replay_exit": $replay_rc, "rows": $rows, "speed": $speed, "redis_replica_in_sync_before": $replica_ok,
       "expected_events": check.get("expected_events"), "counted_events": check.get("counted_events"),
       "lost": check.get("lost"), "double_counted": check.get("double_counted"),
       "settled_seconds": check.get("settled_seconds"), "pass": ok, **extra}
if "coverage" in check:
    res["coverage"] = check["coverage"]
json.dump(res, open(sys.argv[1], "w"), indent=1)
print(json.dumps(res))
PY
  # Drop the scenario's streams and keys (results are in the JSON): a Redis
  # that grows with every scenario makes each full resync, and so each
  # failover, slower. CHAOS_KEEP=1 keeps them, for a post-mortem.
  if [ -z "${CHAOS_KEEP:-}" ]; then
    "$bin" streams delete >/dev/null 2>&1 || true
    local port; port=$(primary_port)
    rcli "$port" --scan --pattern "$TRIBUTARY_KEY_PREFIX:*" |
      awk '{ printf "*2\r\n$6\r\nUNLINK\r\n$%d\r\n%s\r\n", length($0), $0 }' | rcli "$port" --pipe >/dev/null 2>&1 || true
    rm -rf "$run/segments"
  fi
  [ "$crc" = 0 ] && [ "$replay_rc" = 0 ] && [ "$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pass"])' "$results/$name.json")" = True ]
}

case "${1:-short}" in
  short) set -- redis-primary-kill rabbit-leader-kill speed-kill worker-kill coverage-redis-kill ;;
  all) set -- redis-primary-kill redis-lagging-failover redis-full-restart rabbit-leader-kill rabbit-first-kill rabbit-disk-alarm \
    speed-kill speed-freeze speed-broker-cut archive-kill serve-kill scheduler-leader-kill worker-kill coverage-redis-kill ;;
esac
failed=()
for s in "$@"; do
  scenario "$s" || failed+=("$s")
done
rm -f "$run/env.local"
"$cluster" restart-roles
echo "chaos: results in $results"
if [ ${#failed[@]} -gt 0 ]; then echo "chaos: FAILED: ${failed[*]}" >&2; exit 1; fi
echo "chaos: every scenario exact"
