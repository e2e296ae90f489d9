#!/usr/bin/env bash
# A whole Tributary cluster on this one machine, with no single point of
# failure, on loopback ports from one base port:
#
#   3 RabbitMQ nodes in one cluster (private epmd and cookie), streams replicated on all 3
#   Redis primary + replica + 3 Sentinels (master name "tributary")
#   2 speed workers, 2 archivers, 2 schedulers, 2 batch workers, 2 servers behind HAProxy
#   (speed and batch workers: TRIBUTARY_CLUSTER_SPEED_WORKERS, TRIBUTARY_CLUSTER_BATCH_WORKERS, 1-6 each)
#
#   scripts/cluster.sh up              start everything (idempotent), write .run/cluster/env
#   scripts/cluster.sh down            stop everything
#   scripts/cluster.sh status          a JSON list, one object per process
#   scripts/cluster.sh kill NAME [SIG] send SIG (default KILL) to one process (see status for names)
#   scripts/cluster.sh start NAME      start one process again, as `up` started it
#   scripts/cluster.sh restart-roles   restart every Tributary role (with .run/cluster/env.local, if any)
#   scripts/cluster.sh netns-start NAME  restart a Tributary role inside its own network namespace
#   scripts/cluster.sh cut NAME | heal NAME  blackhole (then restore) that role's traffic to RabbitMQ
#
# Ports: TRIBUTARY_CLUSTER_BASE_PORT (default 7600) + offsets below. Data,
# logs, pid files and secrets live under .run/cluster/ (TRIBUTARY_CLUSTER_DIR).
#
# Settings of a run (make chaos, scripts/eval-*.sh write them): the optional
# file .run/cluster/env.local is read by every role started after it is
# written (restart-roles), so any flag's TRIBUTARY_* variable set there
# applies to the roles, e.g. TRIBUTARY_KEY_PREFIX, TRIBUTARY_STREAM_PREFIX,
# TRIBUTARY_PARTITIONS, TRIBUTARY_FLUSH_INTERVAL (speed); the pool sizes
# TRIBUTARY_CLUSTER_SPEED_WORKERS and TRIBUTARY_CLUSTER_BATCH_WORKERS are
# read from it too (the environment wins), and restart-roles stops the speed
# and batch workers past them.
# `set -a; . .run/cluster/env; set +a` makes tributary replay, batch run --wait
# and every other command talk to the cluster.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
run="${TRIBUTARY_CLUSTER_DIR:-$root/.run/cluster}"
mkdir -p "$run"/{pids,logs,cmd}
run=$(cd "$run" && pwd)
base="${TRIBUTARY_CLUSTER_BASE_PORT:-7600}"
bin="$root/bin/tributary"

# Ports (offsets from base).
amqp_port() { echo $((base + $1 - 1)); }          # rabbit1..3: base+0..2
dist_port() { echo $((base + 10 + $1 - 1)); }     # base+10..12
rprom_port() { echo $((base + 30 + $1 - 1)); }    # base+30..32
EPMD_PORT=$((base + 20))
REDIS_PORTS=($((base + 40)) $((base + 41)))         # redis1 (first primary), redis2
SENTINEL_PORTS=($((base + 50)) $((base + 51)) $((base + 52)))
HAPROXY_PORT=$((base + 60)); HAPROXY_STATS_PORT=$((base + 61))
SERVE_PORTS=($((base + 70)) $((base + 71)))
SCHED_PORTS=($((base + 80)) $((base + 81)))
ARCHIVE_METRICS=($((base + 102)) $((base + 103)))
# Speed and batch workers 1-2 keep their historical ports; 3-6 follow.
speed_metrics_port() { if [ "$1" -le 2 ]; then echo $((base + 99 + $1)); else echo $((base + 103 + $1)); fi; }  # 100,101,106..109
worker_metrics_port() { if [ "$1" -le 2 ]; then echo $((base + 103 + $1)); else echo $((base + 107 + $1)); fi; } # 104,105,110..113
MASTER=tributary

# Pool sizes: the environment, else .run/cluster/env.local, else 2.
pool_size() { # pool_size VAR
  local v=${!1:-}
  [ -z "$v" ] && [ -f "$run/env.local" ] && v=$(sed -n "s/^\(export \)\{0,1\}$1=['\"]\{0,1\}\([0-9]*\).*/\2/p" "$run/env.local" | tail -1)
  v=${v:-2}
  [[ $v =~ ^[1-6]$ ]] || { echo "cluster: $1=$v: expected 1 to 6" >&2; exit 2; }
  echo "$v"
}
SPEED_N=$(pool_size TRIBUTARY_CLUSTER_SPEED_WORKERS)
BATCH_N=$(pool_size TRIBUTARY_CLUSTER_BATCH_WORKERS)

secret() {
  local f="$run/$1.secret"
  [ -s "$f" ] || (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$f")
  cat "$f"
}
PW=$(secret redis)
RABBIT_USER=tributary
RABBIT_PW=$(secret rabbitmq)

rabbit_bin=/usr/lib/rabbitmq/bin
rabbit_env() { # rabbit_env N: the environment of node N
  local n=$1 d="$run/rabbit$1"
  export HOME="$run/rabbit-home"   # the cookie, shared by the three nodes
  export ERL_EPMD_PORT="$EPMD_PORT" ERL_EPMD_ADDRESS=127.0.0.1
  export ERL_CRASH_DUMP="$d/log/erl_crash.dump"
  export RABBITMQ_NODENAME="rabbit$n@localhost"
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT; RABBITMQ_NODE_PORT=$(amqp_port "$n")
  export RABBITMQ_DIST_PORT; RABBITMQ_DIST_PORT=$(dist_port "$n")
  export RABBITMQ_MNESIA_BASE="$d/mnesia" RABBITMQ_LOG_BASE="$d/log"
  export RABBITMQ_CONFIG_FILE="$d/rabbitmq" RABBITMQ_ADVANCED_CONFIG_FILE="$d/advanced.config"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins" RABBITMQ_PID_FILE="$run/pids/rabbit$n.pid"
  export RABBITMQ_CONF_ENV_FILE="$d/rabbitmq-env.conf"
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}
ctl() { local n=$1; shift; (rabbit_env "$n"; "$rabbit_bin/rabbitmqctl" -q -n "rabbit$n@localhost" "$@"); }

# The process table: NAME KIND ADDRESS, one a line.
procs=()
add() { procs+=("$1 $2 $3"); }
for n in 1 2 3; do add "rabbit$n" rabbitmq "127.0.0.1:$(amqp_port $n)"; done
add redis1 redis "127.0.0.1:${REDIS_PORTS[0]}"; add redis2 redis "127.0.0.1:${REDIS_PORTS[1]}"
for i in 1 2 3; do add "sentinel$i" sentinel "127.0.0.1:${SENTINEL_PORTS[$((i - 1))]}"; done
for i in $(seq 1 "$SPEED_N"); do add "speed$i" speed "127.0.0.1:$(speed_metrics_port "$i")"; done
for i in 1 2; do
  add "archive$i" archive "127.0.0.1:${ARCHIVE_METRICS[$((i - 1))]}"
  add "scheduler$i" scheduler "127.0.0.1:${SCHED_PORTS[$((i - 1))]}"
  add "serve$i" serve "127.0.0.1:${SERVE_PORTS[$((i - 1))]}"
done
for i in $(seq 1 "$BATCH_N"); do add "worker$i" worker "127.0.0.1:$(worker_metrics_port "$i")"; done
# The Tributary roles, in the order they are started.
ROLES="scheduler1 scheduler2 $(for i in $(seq 1 "$BATCH_N"); do printf 'worker%s ' "$i"; done)archive1 archive2 $(for i in $(seq 1 "$SPEED_N"); do printf 'speed%s ' "$i"; done)serve1 serve2"
add haproxy haproxy "127.0.0.1:$HAPROXY_PORT"

pid_of() { local f="$run/pids/$1.pid"; [ -s "$f" ] && cat "$f" || true; }
alive() { local p; p=$(pid_of "$1"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
rcli() { REDISCLI_AUTH="$PW" redis-cli -h 127.0.0.1 -p "$1" "${@:2}"; }

amqp_list() {
  local out="" n
  for n in 1 2 3; do out+="${out:+,}amqp://$RABBIT_USER:$RABBIT_PW@127.0.0.1:$(amqp_port $n)/%2F"; done
  echo "$out"
}
redis_url() {
  echo "redis://:$PW@127.0.0.1:${SENTINEL_PORTS[0]}/0?master_name=$MASTER&addr=127.0.0.1:${SENTINEL_PORTS[1]}&addr=127.0.0.1:${SENTINEL_PORTS[2]}"
}
sched_list() { echo "http://127.0.0.1:${SCHED_PORTS[0]},http://127.0.0.1:${SCHED_PORTS[1]}"; }

write_env() {
  cat > "$run/env" <<ENV
export TRIBUTARY_REDIS_URL='$(redis_url)'
export TRIBUTARY_AMQP_URL='$(amqp_list)'
export TRIBUTARY_SCHEDULER_URL='$(sched_list)'
export TRIBUTARY_STORE='$run/segments'
export TRIBUTARY_SERVE_URL='http://127.0.0.1:$HAPROXY_PORT'
export TRIBUTARY_CLUSTER_DIR='$run'
export TRIBUTARY_CLUSTER_BASE_PORT='$base'
ENV
  chmod 600 "$run/env"
}

# ---- RabbitMQ -------------------------------------------------------------
rabbit_start() { # rabbit_start N: start node N in the background
  local n=$1
  (
    rabbit_env "$n"
    mkdir -p "$HOME" "$RABBITMQ_MNESIA_BASE" "$RABBITMQ_LOG_BASE"
    [ -s "$HOME/.erlang.cookie" ] || (umask 077; head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' > "$HOME/.erlang.cookie")
    chmod 400 "$HOME/.erlang.cookie"
    echo "[rabbitmq_prometheus]." > "$RABBITMQ_ENABLED_PLUGINS_FILE"
    : > "$RABBITMQ_CONF_ENV_FILE"
    cat > "$RABBITMQ_CONFIG_FILE.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$RABBITMQ_NODE_PORT
prometheus.tcp.port = $(rprom_port "$n")
prometheus.tcp.ip = 127.0.0.1
loopback_users = none
default_user = $RABBIT_USER
default_pass = $RABBIT_PW
default_user_tags.administrator = true
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
log.file.level = warning
log.console = false
disk_free_limit.absolute = 200MB
cluster_partition_handling = pause_minority
CONF
    echo "[]." > "$RABBITMQ_ADVANCED_CONFIG_FILE"
    nohup "$rabbit_bin/rabbitmq-server" > "$RABBITMQ_LOG_BASE/stdout.log" 2>&1 &
  )
}
rabbit_wait() { # rabbit_wait N: until node N's AMQP port answers
  local n=$1
  for _ in $(seq 1 180); do
    if (rabbit_env "$n"; "$rabbit_bin/rabbitmq-diagnostics" -q -n "rabbit$n@localhost" check_port_connectivity) >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "cluster: rabbit$n did not start; see $run/rabbit$n/log" >&2; return 1
}
rabbit_running() { (rabbit_env "$1"; "$rabbit_bin/rabbitmq-diagnostics" -q -n "rabbit$1@localhost" ping) >/dev/null 2>&1; }

rabbit_up() {
  local n started=()
  for n in 1 2 3; do
    if rabbit_running "$n"; then continue; fi
    rabbit_start "$n"; started+=("$n")
  done
  for n in "${started[@]}"; do rabbit_wait "$n"; done
  # Join 2 and 3 to 1 (once: a node that knows the cluster rejoins by itself on restart).
  for n in 2 3; do
    if ! ctl "$n" cluster_status 2>/dev/null | grep -q "rabbit1@localhost"; then
      ctl "$n" stop_app >/dev/null
      ctl "$n" join_cluster rabbit1@localhost >/dev/null
      ctl "$n" start_app >/dev/null
    fi
  done
  ctl 1 add_user "$RABBIT_USER" "$RABBIT_PW" >/dev/null 2>&1 || ctl 1 change_password "$RABBIT_USER" "$RABBIT_PW" >/dev/null
  ctl 1 set_user_tags "$RABBIT_USER" administrator >/dev/null
  ctl 1 set_permissions -p / "$RABBIT_USER" '.*' '.*' '.*' >/dev/null
  ctl 1 delete_user guest >/dev/null 2>&1 || true
  echo "cluster: rabbitmq nodes up on $(amqp_port 1), $(amqp_port 2), $(amqp_port 3)"
}

# ---- Redis and Sentinel --------------------------------------------------
redis_start() { # redis_start I: start Redis node I from its file
  local d="$run/redis$1"
  # Sentinel rewrites the file (CONFIG REWRITE) with the node's settings of
  # the moment: a masterauth changed at run time (chaos.sh's
  # redis-lagging-failover) would stay in it, and the node, restarted as a
  # replica, would never sync again. The secret is the one truth.
  awk -v pw="$PW" '/^masterauth / { print "masterauth " pw; next } { print }' "$d/redis.conf" > "$d/redis.conf.tmp" &&
    mv "$d/redis.conf.tmp" "$d/redis.conf"
  # The pid and log settings stay on the command line: Sentinel rewrites the file.
  redis-server "$d/redis.conf" --daemonize yes --pidfile "$run/pids/redis$1.pid" --logfile "$d/redis.log"
}

redis_up() {
  local i port d
  for i in 1 2; do
    port=${REDIS_PORTS[$((i - 1))]}
    rcli "$port" ping >/dev/null 2>&1 && continue
    d="$run/redis$i"; mkdir -p "$d"
    if [ ! -s "$d/redis.conf" ]; then
      {
        echo "bind 127.0.0.1"; echo "port $port"; echo "dir $d"
        echo "requirepass $PW"; echo "masterauth $PW"
        echo "appendonly yes"; echo "appendfsync everysec"; echo 'save ""'
        echo "maxmemory-policy noeviction"
        [ "$i" = 2 ] && echo "replicaof 127.0.0.1 ${REDIS_PORTS[0]}"
      } > "$d/redis.conf"
    fi
    redis_start "$i"
  done
  for i in 1 2; do
    port=${REDIS_PORTS[$((i - 1))]}
    for _ in $(seq 1 100); do rcli "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  done
  for i in 1 2 3; do
    port=${SENTINEL_PORTS[$((i - 1))]}
    rcli "$port" ping >/dev/null 2>&1 && continue
    d="$run/sentinel$i"; mkdir -p "$d"
    if [ ! -s "$d/sentinel.conf" ]; then
      cat > "$d/sentinel.conf" <<CONF
bind 127.0.0.1
port $port
dir $d
requirepass $PW
sentinel resolve-hostnames no
sentinel monitor $MASTER 127.0.0.1 ${REDIS_PORTS[0]} 2
sentinel auth-pass $MASTER $PW
sentinel down-after-milliseconds $MASTER 2000
sentinel failover-timeout $MASTER 10000
sentinel parallel-syncs $MASTER 1
CONF
    fi
    redis-sentinel "$d/sentinel.conf" --daemonize yes --pidfile "$run/pids/sentinel$i.pid" --logfile "$d/sentinel.log"
  done
  for i in 1 2 3; do
    for _ in $(seq 1 100); do rcli "${SENTINEL_PORTS[$((i - 1))]}" ping >/dev/null 2>&1 && break; sleep 0.1; done
  done
  echo "cluster: redis on ${REDIS_PORTS[*]}, sentinels on ${SENTINEL_PORTS[*]}"
}

# ---- Tributary roles and HAProxy ----------------------------------------
role_cmd() { # the command line of a Tributary role, by name
  local name=$1 i=${1: -1} k=$((${1: -1} - 1))
  case $name in
    speed*) echo "$bin speed --worker-id speed$i --metrics-addr 127.0.0.1:$(speed_metrics_port "$i")" ;;
    archive*) echo "$bin archive --archiver-id archive$i --store $run/segments --metrics-addr 127.0.0.1:${ARCHIVE_METRICS[$k]}" ;;
    scheduler*) echo "$bin scheduler --id scheduler$i --http-addr 127.0.0.1:${SCHED_PORTS[$k]}" ;;
    worker*) echo "$bin worker --id worker$i --metrics-addr 127.0.0.1:$(worker_metrics_port "$i")" ;;
    serve*) echo "$bin serve --http-addr 127.0.0.1:${SERVE_PORTS[$k]} --airports $root/data/airports.csv" ;;
  esac
}

role_start() { # role_start NAME: start a Tributary role in the background
  local name=$1
  alive "$name" && return 0
  # shellcheck disable=SC2046 # the command line is split on purpose
  # env.local (optional, e.g. written by make chaos) overrides the cluster's settings.
  (set -a; . "$run/env"; [ -f "$run/env.local" ] && . "$run/env.local"; set +a; cd "$run"
   nohup $(role_cmd "$name") >> "$run/logs/$name.log" 2>&1 &
   echo $! > "$run/pids/$name.pid")
}

haproxy_start() {
  alive haproxy && return 0
  cat > "$run/haproxy.cfg" <<CFG
global
  pidfile $run/pids/haproxy.pid
  daemon
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  retries 2
  option redispatch
frontend api
  bind 127.0.0.1:$HAPROXY_PORT
  default_backend serve
backend serve
  option httpchk GET /healthz
  server serve1 127.0.0.1:${SERVE_PORTS[0]} check inter 1s fall 2 rise 1
  server serve2 127.0.0.1:${SERVE_PORTS[1]} check inter 1s fall 2 rise 1
listen stats
  bind 127.0.0.1:$HAPROXY_STATS_PORT
  stats enable
  stats uri /
CFG
  haproxy -f "$run/haproxy.cfg"
}

# ---- Network namespaces, to cut one role from the broker -------------------
# A role started by netns_start runs in a network namespace of its own whose
# loopback has the same addresses as the host's (so Sentinel's answers and
# the --amqp-url list stay valid inside): each RabbitMQ, Redis and Sentinel
# port is bridged by two socat processes, one in the namespace
# (127.0.0.1:PORT -> a Unix socket under .run/cluster/netns/NAME/, the one
# path that crosses namespaces) and one on the host (that socket ->
# 127.0.0.1:PORT). A veth pair with host-side 127.0.0.1 cannot do it: the
# kernel does not route loopback-sourced replies out of a non-loopback
# interface, and neither iptables nor nft is installed here. `cut` stops
# (SIGSTOP) the host-side bridges of the RabbitMQ ports and every connection
# they relay: a blackhole, as a dead link or a partition is (no RST: the
# role only learns from missed AMQP heartbeats and dial timeouts), while its
# Redis traffic goes on. `heal` resumes them.
netns_name() { echo "trib$base-$1"; }
bridge_ports() { echo "$(amqp_port 1) $(amqp_port 2) $(amqp_port 3) ${REDIS_PORTS[*]} ${SENTINEL_PORTS[*]}"; }
netns_start() { # netns_start NAME: (re)start a Tributary role in its namespace
  local name=$1 ns d p
  command -v socat >/dev/null || { echo "cluster: socat is missing: run make deps" >&2; return 1; }
  ns=$(netns_name "$name"); d="$run/netns/$name"
  if alive "$name"; then
    kill -TERM "$(pid_of "$name")"; for _ in $(seq 1 100); do alive "$name" || break; sleep 0.1; done
    alive "$name" && kill -KILL "$(pid_of "$name")"
  fi
  netns_stop "$name"
  mkdir -p "$d"
  ip netns add "$ns"
  ip netns exec "$ns" ip link set lo up
  for p in $(bridge_ports); do
    nohup socat "UNIX-LISTEN:$d/$p.sock,fork,unlink-early" "TCP:127.0.0.1:$p" > /dev/null 2>&1 &
    echo $! > "$run/pids/bridge-$name-host-$p.pid"
    for _ in $(seq 1 50); do [ -S "$d/$p.sock" ] && break; sleep 0.1; done
    nohup ip netns exec "$ns" socat "TCP-LISTEN:$p,bind=127.0.0.1,fork,reuseaddr" "UNIX-CONNECT:$d/$p.sock" > /dev/null 2>&1 &
    echo $! > "$run/pids/bridge-$name-ns-$p.pid"
  done
  sleep 0.5
  # shellcheck disable=SC2046 # the command line is split on purpose
  (set -a; . "$run/env"; [ -f "$run/env.local" ] && . "$run/env.local"; set +a; cd "$run"
   nohup ip netns exec "$ns" $(role_cmd "$name") >> "$run/logs/$name.log" 2>&1 &
   echo $! > "$run/pids/$name.pid")
  echo "cluster: $name runs in network namespace $ns"
}
netns_stop() { # netns_stop NAME: remove the namespace and its bridges (the role must be stopped)
  local name=$1 f p
  for f in "$run"/pids/bridge-"$name"-*.pid; do
    [ -e "$f" ] || continue
    p=$(cat "$f")
    for c in $(pgrep -P "$p" 2>/dev/null); do kill -CONT "$c" 2>/dev/null; kill -KILL "$c" 2>/dev/null; done
    kill -CONT "$p" 2>/dev/null || true; kill -KILL "$p" 2>/dev/null || true
    rm -f "$f"
  done
  ip netns del "$(netns_name "$name")" 2>/dev/null || true
  rm -rf "$run/netns/$name"
}
bridge_signal() { # bridge_signal NAME SIG: signal the host-side RabbitMQ bridges and their relays
  local name=$1 sig=$2 n p c
  for n in 1 2 3; do
    p=$(cat "$run/pids/bridge-$name-host-$(amqp_port "$n").pid" 2>/dev/null) || { echo "cluster: $name is not in a namespace" >&2; return 1; }
    kill "-$sig" "$p"
    for c in $(pgrep -P "$p" 2>/dev/null); do kill "-$sig" "$c" 2>/dev/null || true; done
  done
}

start_one() { # start NAME: start one process again
  case $1 in
    rabbit[123]) rabbit_start "${1#rabbit}"; rabbit_wait "${1#rabbit}" ;;
    redis[12]) redis_start "${1#redis}" ;;
    sentinel[123]) local i=${1#sentinel}
      redis-sentinel "$run/sentinel$i/sentinel.conf" --daemonize yes --pidfile "$run/pids/sentinel$i.pid" --logfile "$run/sentinel$i/sentinel.log" ;;
    haproxy) haproxy_start ;;
    speed[1-6] | archive[12] | scheduler[12] | worker[1-6] | serve[12]) role_start "$1" ;;
    *) echo "cluster: no process named $1" >&2; return 2 ;;
  esac
}

up() {
  for b in redis-server redis-sentinel haproxy; do
    command -v "$b" >/dev/null || { echo "cluster: $b is missing: run make deps" >&2; exit 1; }
  done
  [ -x "$bin" ] || { echo "cluster: $bin is missing: run make build" >&2; exit 1; }
  write_env
  redis_up
  rabbit_up
  # Declare the streams once, replicated on the three nodes. On a restart
  # of an existing cluster a stream whose home node has just booted may not
  # be available yet ("NOT_FOUND - home node ... is down or inaccessible")
  # for a few seconds after every AMQP port answers: retry.
  local i err
  for i in $(seq 1 45); do
    if err=$(set -a; . "$run/env"; set +a; "$bin" streams declare 2>&1 >/dev/null); then break; fi
    [ "$i" = 45 ] && { echo "cluster: streams declare: $err" >&2; exit 1; }
    [ "$i" = 1 ] && echo "cluster: streams not declarable yet, retrying: ${err##*: }" >&2
    sleep 2
  done
  for name in $ROLES; do role_start "$name"; done
  haproxy_start
  echo "cluster: every role started; API at http://127.0.0.1:$HAPROXY_PORT/, settings in $run/env"
  echo "cluster: set -a; . $run/env; set +a   # then tributary replay, tributary batch run --wait, ..."
}

# The speed and batch workers past the pool sizes (speed3, worker4, ...:
# started by tributary autoscale or by an earlier, larger setting) and the
# autoscalers themselves, from their pid files.
extra_roles() {
  local f n
  for f in "$run"/pids/speed*.pid "$run"/pids/worker*.pid "$run"/pids/autoscale*.pid; do
    [ -e "$f" ] || continue
    n=$(basename "$f" .pid)
    case " $ROLES " in *" $n "*) ;; *) echo "$n" ;; esac
  done
}

down() {
  local name extra
  extra=$(extra_roles)
  # shellcheck disable=SC2086 # one name a word
  for name in $extra $ROLES haproxy; do
    alive "$name" && kill -TERM "$(pid_of "$name")" 2>/dev/null || true
  done
  # shellcheck disable=SC2086
  for name in $extra $ROLES haproxy; do
    for _ in $(seq 1 50); do alive "$name" || break; sleep 0.1; done
    alive "$name" && kill -KILL "$(pid_of "$name")" 2>/dev/null || true
    rm -f "$run/pids/$name.pid"
    netns_stop "$name"
  done
  for n in 3 2 1; do
    if [ -n "$(pid_of "rabbit$n")" ] && kill -0 "$(pid_of "rabbit$n")" 2>/dev/null; then
      kill -CONT "$(pid_of "rabbit$n")" 2>/dev/null || true
      ctl "$n" shutdown >/dev/null 2>&1 || kill -TERM "$(pid_of "rabbit$n")" 2>/dev/null || true
    fi
  done
  # The private epmd outlives the nodes: stop it once they are gone (it
  # refuses -kill while a node is still registered).
  for n in 1 2 3; do
    for _ in $(seq 1 100); do alive "rabbit$n" || break; sleep 0.2; done
  done
  for _ in 1 2 3 4 5; do
    epmd -port "$EPMD_PORT" -kill >/dev/null 2>&1 || true
    (exec 3<>/dev/tcp/127.0.0.1/"$EPMD_PORT") 2>/dev/null || break
    sleep 1
  done
  for name in sentinel1 sentinel2 sentinel3 redis1 redis2; do
    alive "$name" && { kill -CONT "$(pid_of "$name")"; kill -TERM "$(pid_of "$name")"; } 2>/dev/null || true
  done
  echo "cluster: stopped (data kept in $run; rm -rf it to start afresh)"
}

status() {
  local leaders="" line name kind addr pid role port is_leader
  # Stream leaders, from any node that answers.
  # Only ask a live node: the Erlang CLI starts an epmd of its own otherwise.
  for n in 1 2 3; do
    alive "rabbit$n" || continue
    if leaders=$(ctl "$n" list_queues name type leader --formatter json 2>/dev/null); then break; fi
    leaders=""
  done
  {
    for line in "${procs[@]}"; do
      read -r name kind addr <<< "$line"
      pid=$(pid_of "$name")
      [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && pid=""
      role=""
      port=${addr##*:}
      case $kind in
        redis) [ -n "$pid" ] && role=$(rcli "$port" info replication 2>/dev/null | tr -d '\r' | sed -n 's/^role://p') || true
          case $role in master) role=primary ;; slave) role=replica ;; esac ;;
        sentinel) [ -n "$pid" ] && role="sentinel: primary $(rcli "$port" sentinel get-master-addr-by-name "$MASTER" 2>/dev/null | paste -sd: -)" || true ;;
        scheduler) if [ -n "$pid" ] && is_leader=$(curl -fsS -m 2 "http://$addr/v1/leader" 2>/dev/null); then
            case $is_leader in *'"is_leader":true'*) role=leader ;; *) role=standby ;; esac
          fi ;;
        haproxy) role="load balancer of serve1, serve2" ;;
        rabbitmq) role="rabbit${name#rabbit}@localhost" ;;
        *) role=member ;;
      esac
      printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$kind" "$addr" "${pid:-}" "$role"
    done
  } | LEADERS="$leaders" /usr/bin/python3 -c '
import json, os, sys
leaders = {}
try:
    for q in json.loads(os.environ.get("LEADERS") or "[]"):
        if q.get("type") == "stream":
            leaders.setdefault(str(q.get("leader")), []).append(q["name"])
except ValueError:
    pass
out = []
for line in sys.stdin:
    name, kind, addr, pid, role = line.rstrip("\n").split("\t")
    o = {"name": name, "kind": kind, "address": addr, "pid": int(pid) if pid else None, "alive": bool(pid), "role": role or None}
    if kind == "rabbitmq":
        o["role"] = "stream leader of " + (", ".join(sorted(leaders.get(role, []))) or "no stream") if pid else None
    out.append(o)
json.dump(out, sys.stdout, indent=1)
print()
'
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  status) status ;;
  env) write_env; cat "$run/env" ;;
  kill) [ $# -ge 2 ] || { echo "usage: $0 kill NAME [SIGNAL]" >&2; exit 2; }
    p=$(pid_of "$2"); [ -n "$p" ] || { echo "cluster: no pid for $2" >&2; exit 1; }
    kill "-${3:-KILL}" "$p" ;;
  start) [ $# -ge 2 ] || { echo "usage: $0 start NAME" >&2; exit 2; }; start_one "$2" ;;
  restart-roles) # stop every Tributary role (SIGTERM) and start it again, with env.local
    # Speed and batch workers past the pool sizes are stopped, not restarted.
    extra=$(extra_roles | grep -v '^autoscale' || true)
    # shellcheck disable=SC2086 # one name a word
    for name in $ROLES $extra; do
      alive "$name" && kill -TERM "$(pid_of "$name")" 2>/dev/null || true
    done
    # shellcheck disable=SC2086
    for name in $extra; do
      for _ in $(seq 1 100); do alive "$name" || break; sleep 0.1; done
      alive "$name" && kill -KILL "$(pid_of "$name")" 2>/dev/null || true
      rm -f "$run/pids/$name.pid"
    done
    for name in $ROLES; do
      for _ in $(seq 1 100); do alive "$name" || break; sleep 0.1; done
      alive "$name" && kill -KILL "$(pid_of "$name")" 2>/dev/null || true
      netns_stop "$name"
      role_start "$name"
    done ;;
  netns-start) [ $# -ge 2 ] || { echo "usage: $0 netns-start NAME" >&2; exit 2; }; netns_start "$2" ;;
  cut) [ $# -ge 2 ] || { echo "usage: $0 cut NAME" >&2; exit 2; }; bridge_signal "$2" STOP ;;
  heal) [ $# -ge 2 ] || { echo "usage: $0 heal NAME" >&2; exit 2; }; bridge_signal "$2" CONT ;;
  *) echo "usage: $0 up|down|status|env|kill NAME [SIG]|start NAME|restart-roles|netns-start NAME|cut NAME|heal NAME" >&2; exit 2 ;;
esac
