#!/usr/bin/env bash
# The demo: every role of the pipeline on this machine, as separate processes,
# the way a cluster runs them. `make demo` installs what is missing, starts the
# services, fetches the data set and builds bin/tributary first.
#
#   replay (one day of flights per second) -> 8 stream queues
#   2 speed workers -> Redis speed views
#   archiver -> Parquet segments in data/segments
#   scheduler (batch recompute every minute) + 2 batch workers -> batch view
#   serve -> http://127.0.0.1:8080
#
# Ctrl-C stops everything. Run again, it continues where it stopped;
# DEMO_RESET=1 starts from scratch.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=bin/tributary
speed=${DEMO_SPEED:-86400}
cron=${DEMO_BATCH_CRON:-@every 1m}
logs=.run/demo
mkdir -p "$logs"
export TRIBUTARY_KEY_PREFIX=${TRIBUTARY_KEY_PREFIX:-demo}
export TRIBUTARY_STREAM_PREFIX=${TRIBUTARY_STREAM_PREFIX:-demo.flights}
export TRIBUTARY_STORE=${TRIBUTARY_STORE:-data/segments-demo}
token_file=.run/demo-admin-token
[ -s "$token_file" ] || (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$token_file")
token=$(cat "$token_file")

if [ "${DEMO_RESET:-0}" = 1 ]; then
  echo "demo: reset: deleting the demo's streams, Redis keys and segments"
  $bin streams delete >/dev/null 2>&1 || true
  # redis-cli's -u does not take the user-less "redis://:password@" form: split the URL.
  hostport=${TRIBUTARY_REDIS_URL#*@}; hostport=${hostport%%/*}
  pass=${TRIBUTARY_REDIS_URL#redis://}; pass=${pass%@*}; pass=${pass#*:}
  rcli() { REDISCLI_AUTH="$pass" redis-cli -h "${hostport%:*}" -p "${hostport##*:}" "$@"; }
  del_keys() { # unlink every key matching a pattern, through one pipelined connection
    rcli --scan --pattern "$1" |
      awk '{ printf "*2\r\n$6\r\nUNLINK\r\n$%d\r\n%s\r\n", length($0), $0 }' |
      rcli --pipe >/dev/null
  }
  del_keys "$TRIBUTARY_KEY_PREFIX:*"
  del_keys "asynq:{$TRIBUTARY_KEY_PREFIX}.*" # the queues PREFIX}.default and PREFIX}.batch
  del_keys "asynq:{$TRIBUTARY_KEY_PREFIX.*"  # queues named before they shared the scheduler's slot
  rm -rf "$TRIBUTARY_STORE"
fi

pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "demo: stopping every role"
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  echo "demo: stopped; the services still run (make services-down stops them)"
  exit 0
}
trap stop INT TERM EXIT

start() { # start NAME ARGS...: a role in the background, its log in .run/demo/NAME.log
  local name=$1; shift
  "$bin" "$@" > "$logs/$name.log" 2>&1 &
  pids+=($!)
}

$bin streams declare >/dev/null
start speed-1   speed --worker-id demo-speed-1 --metrics-addr 127.0.0.1:9101
start speed-2   speed --worker-id demo-speed-2 --metrics-addr 127.0.0.1:9111
start archive   archive --segment-interval 10s --metrics-addr 127.0.0.1:9103
start scheduler scheduler --http-addr 127.0.0.1:8090 --admin-token "$token" --batch-cron "$cron"
start worker-1  worker --id demo-worker-1 --metrics-addr 127.0.0.1:9102
start worker-2  worker --id demo-worker-2 --metrics-addr 127.0.0.1:9112
start serve     serve --http-addr 127.0.0.1:8080 --admin-token "$token" --monitoring

for _ in $(seq 1 100); do
  curl -fs http://127.0.0.1:8080/readyz >/dev/null 2>&1 && break
  sleep 0.2
done
cat <<MSG

  Tributary is running on this machine.
    live page         http://127.0.0.1:8080/
    API               http://127.0.0.1:8080/v1/airports/ATL   (see http://127.0.0.1:8080/openapi.json)
    status            http://127.0.0.1:8080/v1/status
    asynq web UI      http://127.0.0.1:8080/monitoring/?token=$token
    batch now         curl -X POST -H 'Authorization: Bearer $token' http://127.0.0.1:8080/v1/admin/batch
    metrics           :9100 replay, :9101/:9111 speed, :9102/:9112 workers, :9103 archive, :8090 scheduler, :8080 serve
    logs              $logs/
  A batch recompute runs $cron. Ctrl-C stops everything.

MSG
# The replay in the foreground shows its progress bar; when it is done, the
# pipeline keeps serving until Ctrl-C.
$bin replay --data data/flights-3m.parquet --speed "$speed" --metrics-addr 127.0.0.1:9100 || true
echo "demo: the replay is done; everything keeps running until Ctrl-C"
wait
