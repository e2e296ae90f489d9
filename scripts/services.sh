#!/usr/bin/env bash
# Starts and stops Tributary's private Redis and RabbitMQ on loopback.
#
#   scripts/services.sh up      start both (idempotent), wait until they answer, write .run/env
#   scripts/services.sh down    stop both cleanly
#   scripts/services.sh status  say what runs
#
# Everything lives under .run/ (git-ignored): data, logs, pid files, an Erlang
# cookie and a private epmd port, so that nothing system-wide is used or disturbed.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
run="${TRIBUTARY_RUN_DIR:-$root/.run}"
mkdir -p "$run"
run=$(cd "$run" && pwd)

REDIS_PORT="${TRIBUTARY_REDIS_PORT:-6390}"
AMQP_PORT="${TRIBUTARY_AMQP_PORT:-5690}"
DIST_PORT="${TRIBUTARY_RABBIT_DIST_PORT:-25690}"
EPMD_PORT="${TRIBUTARY_EPMD_PORT:-4390}"
RABBIT_PROM_PORT="${TRIBUTARY_RABBIT_PROMETHEUS_PORT:-15690}"
RABBIT_USER="tributary"
NODENAME="tributary@localhost"

secret() { # a password kept across restarts, made once per checkout
  local f="$run/$1.secret"
  [ -s "$f" ] || (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$f")
  cat "$f"
}
REDIS_PASSWORD=$(secret redis)
RABBIT_PASSWORD=$(secret rabbitmq)

rabbit_bin=/usr/lib/rabbitmq/bin
rabbit_env() {
  export HOME="$run/rabbitmq/home"                      # holds the private .erlang.cookie
  mkdir -p "$HOME" "$run/rabbitmq/log"
  # Erlang CLI tools write their crash dumps into the working directory otherwise.
  export ERL_CRASH_DUMP="$run/rabbitmq/log/erl_crash.dump"
  export ERL_EPMD_PORT="$EPMD_PORT"
  export RABBITMQ_NODENAME="$NODENAME"
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT="$AMQP_PORT"
  export RABBITMQ_DIST_PORT="$DIST_PORT"
  export RABBITMQ_MNESIA_BASE="$run/rabbitmq/mnesia"
  export RABBITMQ_LOG_BASE="$run/rabbitmq/log"
  export RABBITMQ_CONFIG_FILE="$run/rabbitmq/rabbitmq"  # .conf is appended
  export RABBITMQ_ADVANCED_CONFIG_FILE="$run/rabbitmq/advanced.config"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$run/rabbitmq/enabled_plugins"
  export RABBITMQ_PID_FILE="$run/rabbitmq/rabbitmq.pid"
  export RABBITMQ_CONF_ENV_FILE="$run/rabbitmq/rabbitmq-env.conf"
  export ERL_EPMD_ADDRESS=127.0.0.1                       # private epmd, loopback only
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

redis_cli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --no-auth-warning -a "$REDIS_PASSWORD" "$@"; }

redis_up() {
  if redis_cli ping >/dev/null 2>&1; then echo "redis: already running on 127.0.0.1:$REDIS_PORT"; return; fi
  mkdir -p "$run/redis"
  cat > "$run/redis/redis.conf" <<CONF
bind 127.0.0.1
port $REDIS_PORT
dir $run/redis
pidfile $run/redis/redis.pid
logfile $run/redis/redis.log
daemonize yes
requirepass $REDIS_PASSWORD
appendonly yes
appendfsync everysec
save ""
maxmemory-policy noeviction
CONF
  redis-server "$run/redis/redis.conf"
  for _ in $(seq 1 100); do redis_cli ping >/dev/null 2>&1 && { echo "redis: up on 127.0.0.1:$REDIS_PORT"; return; }; sleep 0.1; done
  echo "redis: did not answer; see $run/redis/redis.log" >&2; exit 1
}

rabbit_up() {
  rabbit_env
  if "$rabbit_bin/rabbitmq-diagnostics" -q ping >/dev/null 2>&1; then echo "rabbitmq: already running on 127.0.0.1:$AMQP_PORT"; return; fi
  mkdir -p "$HOME" "$RABBITMQ_MNESIA_BASE" "$RABBITMQ_LOG_BASE"
  [ -s "$HOME/.erlang.cookie" ] || (umask 077; head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' > "$HOME/.erlang.cookie")
  chmod 400 "$HOME/.erlang.cookie"
  echo "[rabbitmq_prometheus]." > "$RABBITMQ_ENABLED_PLUGINS_FILE"
  : > "$RABBITMQ_CONF_ENV_FILE"
  cat > "$RABBITMQ_CONFIG_FILE.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$AMQP_PORT
prometheus.tcp.port = $RABBIT_PROM_PORT
prometheus.tcp.ip = 127.0.0.1
loopback_users = none
default_user = $RABBIT_USER
default_pass = $RABBIT_PASSWORD
default_user_tags.administrator = true
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
log.file.level = warning
log.console = false
disk_free_limit.absolute = 200MB
CONF
  echo "[]." > "$RABBITMQ_ADVANCED_CONFIG_FILE"
  # -detached loses the pid; run it in the background ourselves and keep its stdout as a log.
  nohup "$rabbit_bin/rabbitmq-server" > "$RABBITMQ_LOG_BASE/stdout.log" 2>&1 &
  for _ in $(seq 1 120); do
    if "$rabbit_bin/rabbitmq-diagnostics" -q check_port_connectivity >/dev/null 2>&1; then
      # The default user is created on first boot only: make sure ours exists on a reused data dir, and guest does not.
      "$rabbit_bin/rabbitmqctl" -q add_user "$RABBIT_USER" "$RABBIT_PASSWORD" >/dev/null 2>&1 || \
        "$rabbit_bin/rabbitmqctl" -q change_password "$RABBIT_USER" "$RABBIT_PASSWORD" >/dev/null
      "$rabbit_bin/rabbitmqctl" -q set_user_tags "$RABBIT_USER" administrator >/dev/null
      "$rabbit_bin/rabbitmqctl" -q set_permissions -p / "$RABBIT_USER" '.*' '.*' '.*' >/dev/null
      "$rabbit_bin/rabbitmqctl" -q delete_user guest >/dev/null 2>&1 || true
      echo "rabbitmq: up on 127.0.0.1:$AMQP_PORT (metrics on 127.0.0.1:$RABBIT_PROM_PORT)"
      return
    fi
    sleep 1
  done
  echo "rabbitmq: did not answer; see $RABBITMQ_LOG_BASE" >&2; exit 1
}

write_env() {
  cat > "$run/env" <<ENV
export TRIBUTARY_REDIS_URL='redis://:$REDIS_PASSWORD@127.0.0.1:$REDIS_PORT/0'
export TRIBUTARY_AMQP_URL='amqp://$RABBIT_USER:$RABBIT_PASSWORD@127.0.0.1:$AMQP_PORT/%2F'
export TRIBUTARY_RABBITMQ_METRICS_URL='http://127.0.0.1:$RABBIT_PROM_PORT/metrics'
ENV
  echo "services: settings in $run/env"
}

case "${1:-up}" in
  up) redis_up; rabbit_up; write_env ;;
  down)
    rabbit_env
    if "$rabbit_bin/rabbitmq-diagnostics" -q ping >/dev/null 2>&1; then
      "$rabbit_bin/rabbitmqctl" -q shutdown >/dev/null 2>&1 || true
      echo "rabbitmq: stopped"
    fi
    # The private epmd lives on after the node; stop it too.
    epmd -port "$EPMD_PORT" -kill >/dev/null 2>&1 || true
    if redis_cli ping >/dev/null 2>&1; then redis_cli shutdown >/dev/null 2>&1 || true; echo "redis: stopped"; fi
    ;;
  status)
    redis_cli ping >/dev/null 2>&1 && echo "redis: running on 127.0.0.1:$REDIS_PORT" || echo "redis: down"
    # A port probe: the Erlang CLI would start an epmd of its own to ask.
    (exec 3<>/dev/tcp/127.0.0.1/"$AMQP_PORT") 2>/dev/null && echo "rabbitmq: running on 127.0.0.1:$AMQP_PORT" || echo "rabbitmq: down"
    ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
