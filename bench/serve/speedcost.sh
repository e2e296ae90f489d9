#!/usr/bin/env bash
# PROFILING AID: the cost of the speed part of serve's queries (issue 12:
# every admitted query within ~50 ms). Loads the whole data set into the
# speed layer only (no batch view: every hour is a speed hour, the worst
# case), starts `tributary serve` with its default limits and no answer
# cache, and runs bench/serve/speedcost: top lists over 1 to 9 days (past
# --max-speed-buckets: a 400), one airport and one route over the half year,
# an airport's longest hourly series. Extra arguments go to speedcost (e.g.
# -ref http://127.0.0.1:PORT to check byte-identical answers against another
# serve on the same keys, -n 21). Needs the services (make services) and
# the data set (make data); takes about two minutes (the speed workers).
# SPEEDCOST_PORT (default 18180) is serve's port; SPEEDCOST_KEEP=1 leaves
# the keys, streams and serve running for further queries.
set -euo pipefail
cd "$(dirname "$0")/../.."
set -a; . .run/env; set +a
port=${SPEEDCOST_PORT:-18180}
tmp=$(mktemp -d)
export TRIBUTARY_KEY_PREFIX="speedcost$$" TRIBUTARY_STREAM_PREFIX="speedcost$$.flights"
go build -o "$tmp/tributary" ./cmd/tributary
go build -o "$tmp/speedcost" ./bench/serve/speedcost
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ "${SPEEDCOST_KEEP:-}" != 1 ]; then
		"$tmp/tributary" streams delete >/dev/null 2>&1 || true
		# redis-cli -u does not take the URL's empty user: host, port, password.
		read -r host rport pw < <(python3 -c 'import sys, urllib.parse as u; r = u.urlparse(sys.argv[1]); print(r.hostname, r.port, r.password or "")' "$TRIBUTARY_REDIS_URL")
		rc=(redis-cli -h "$host" -p "$rport" --no-auth-warning)
		[ -n "$pw" ] && rc+=(-a "$pw")
		"${rc[@]}" --scan --pattern "$TRIBUTARY_KEY_PREFIX:*" | xargs -r -n 500 "${rc[@]}" del >/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
"$tmp/tributary" streams declare >/dev/null
for w in 1 2; do
	"$tmp/tributary" speed --metrics-addr "" --worker-id "speedcost$$-$w" >"$tmp/speed$w.log" 2>&1 &
	pids+=($!)
done
"$tmp/tributary" replay --metrics-addr "" --speed max --producer speedcost >"$tmp/replay.log" 2>&1
"$tmp/tributary" serve --http-addr "127.0.0.1:$port" --answer-cache 0 --scheduler-url "" >"$tmp/serve.log" 2>&1 &
pids+=($!)
echo "waiting for the speed layer to apply the 3,000,000 events..." >&2
for _ in $(seq 1 600); do
	applied=$(curl -sf "127.0.0.1:$port/v1/status" | python3 -c 'import json,sys; print(sum(p["applied"] for p in json.load(sys.stdin)["speed"]["partitions"]))' 2>/dev/null || echo 0)
	[ "$applied" -ge 3000000 ] && break
	sleep 1
done
[ "$applied" -ge 3000000 ] || { echo "speed layer applied $applied events only" >&2; exit 1; }
for p in "${pids[@]:0:2}"; do kill "$p"; done # quiet: serve alone reads
sleep 1
"$tmp/speedcost" -url "http://127.0.0.1:$port" "$@"
if [ "${SPEEDCOST_KEEP:-}" = 1 ]; then
	echo "kept: keys $TRIBUTARY_KEY_PREFIX:*, streams $TRIBUTARY_STREAM_PREFIX.*, serve on 127.0.0.1:$port (pid ${pids[2]})" >&2
	pids=()
fi
