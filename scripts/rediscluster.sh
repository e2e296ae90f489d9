#!/usr/bin/env bash
# Starts and stops a local 3-master Redis Cluster on loopback, for the test
# suite run against a cluster (`make test-rediscluster`).
#
#   scripts/rediscluster.sh up      start the three nodes (idempotent), create the cluster, write .run/rediscluster/env
#   scripts/rediscluster.sh down    stop the nodes and forget the cluster (its data is disposable)
#   scripts/rediscluster.sh status  the cluster's state and nodes
#
# Ports: TRIBUTARY_REDISCLUSTER_PORT (default 7800: `make cluster` uses 7600-7705) and the next two, their
# cluster bus 20 above (7820-7822), all on 127.0.0.1. The
# nodes keep nothing across a `down`: the cluster is made for tests. The env
# file holds TRIBUTARY_REDIS_URL as a cluster URL (redis+cluster://); source it
# after .run/env (RabbitMQ stays the one of `make services`).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
run="${TRIBUTARY_RUN_DIR:-$root/.run}/rediscluster"
mkdir -p "$run"
run=$(cd "$run" && pwd)
BASE="${TRIBUTARY_REDISCLUSTER_PORT:-7800}"
PORTS=("$BASE" "$((BASE + 1))" "$((BASE + 2))")

secret() {
  local f="$run/redis.secret"
  [ -s "$f" ] || (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$f")
  cat "$f"
}
PASSWORD=$(secret)
cli() { local port=$1; shift; redis-cli -h 127.0.0.1 -p "$port" --no-auth-warning -a "$PASSWORD" "$@"; }

node_up() {
  local port=$1 dir="$run/$1"
  if cli "$port" ping >/dev/null 2>&1; then return; fi
  mkdir -p "$dir"
  cat > "$dir/redis.conf" <<CONF
bind 127.0.0.1
port $port
dir $dir
pidfile $dir/redis.pid
logfile $dir/redis.log
daemonize yes
requirepass $PASSWORD
masterauth $PASSWORD
cluster-enabled yes
cluster-port $((port + 20))
cluster-config-file $dir/nodes.conf
cluster-node-timeout 5000
appendonly no
save ""
maxmemory-policy noeviction
CONF
  redis-server "$dir/redis.conf"
  for _ in $(seq 1 100); do cli "$port" ping >/dev/null 2>&1 && return; sleep 0.1; done
  echo "rediscluster: node $port did not answer; see $dir/redis.log" >&2; exit 1
}

up() {
  for p in "${PORTS[@]}"; do node_up "$p"; done
  if [ "$(cli "${PORTS[0]}" cluster info | tr -d '\r' | sed -n 's/^cluster_state://p')" != ok ]; then
    local addrs=()
    for p in "${PORTS[@]}"; do addrs+=("127.0.0.1:$p"); done
    redis-cli --no-auth-warning -a "$PASSWORD" --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes >"$run/create.log" 2>&1 ||
      { cat "$run/create.log" >&2; exit 1; }
  fi
  # Every node must agree that every slot is served before tests start.
  for _ in $(seq 1 100); do
    local ok=1
    for p in "${PORTS[@]}"; do
      [ "$(cli "$p" cluster info | tr -d '\r' | sed -n 's/^cluster_state://p')" = ok ] || ok=0
    done
    [ $ok = 1 ] && break
    sleep 0.1
  done
  [ $ok = 1 ] || { echo "rediscluster: the cluster did not reach state ok" >&2; exit 1; }
  local extra=""
  for p in "${PORTS[@]:1}"; do extra+="${extra:+&}addr=127.0.0.1:$p"; done
  (umask 077; cat > "$run/env" <<ENV
export TRIBUTARY_REDIS_URL='redis+cluster://:$PASSWORD@127.0.0.1:${PORTS[0]}?$extra'
ENV
  )
  echo "rediscluster: 3 masters up on 127.0.0.1:${PORTS[0]}-${PORTS[2]}; settings in $run/env"
}

down() {
  for p in "${PORTS[@]}"; do
    if cli "$p" ping >/dev/null 2>&1; then cli "$p" shutdown nosave >/dev/null 2>&1 || true; fi
    for _ in $(seq 1 50); do cli "$p" ping >/dev/null 2>&1 || break; sleep 0.1; done
    rm -f "$run/$p/nodes.conf"
  done
  rm -f "$run/env"
  echo "rediscluster: down"
}

status() {
  cli "${PORTS[0]}" cluster info | tr -d '\r' | grep -E '^cluster_(state|known_nodes|size|slots_ok)' || { echo "rediscluster: not running"; exit 1; }
  cli "${PORTS[0]}" cluster nodes | awk '{print $2, $3}'
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
