#!/usr/bin/env bash
# Produces notebooks/data/replay-sample.json, the sample that metrics.ipynb
# reads when no Prometheus export is given: a local `tributary replay` whose
# /metrics (and the broker's per-queue metrics) are scraped with curl every
# 200 ms, then converted by scrape_to_range.py into the JSON shape of a
# Prometheus range query (/api/v1/query_range, resultType "matrix").
#
# Run from the repository root after `make services build data`:
#   notebooks/capture_replay.sh
# It uses its own stream and key prefix (nb-sample) and deletes the stream
# queues and its Redis keys afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
set -a; . .run/env; set +a

PREFIX=${PREFIX:-nb-sample}
LIMIT=${LIMIT:-200000}
# JSON (one event per message) is broker-bound at tens of thousands of events/s,
# so the run lasts a few seconds and the 200 ms scrapes see it ramp up; the
# Arrow encoding replays 200,000 flights in about a tenth of a second.
ENCODING=${ENCODING:-json}
ADDR=127.0.0.1:9100
RAW=notebooks/data/replay-sample.scrapes.txt
OUT=notebooks/data/replay-sample.json
RABBIT=${TRIBUTARY_RABBITMQ_METRICS_URL:-http://127.0.0.1:15690/metrics}

: >"$RAW"
bin/tributary replay --speed max --limit "$LIMIT" --encoding "$ENCODING" --reset \
  --stream-prefix "$PREFIX" --key-prefix "$PREFIX" --metrics-addr "$ADDR" \
  >notebooks/data/replay-sample.log 2>&1 &
pid=$!

scrape() {
  local ts
  ts=$(date +%s.%N)
  {
    echo "# SCRAPE $ts"
    curl -sf "http://$ADDR/metrics" | grep -E '^tributary_replay_' || true
    curl -sf "${RABBIT}/detailed?family=queue_coarse_metrics" | grep -F "queue=\"$PREFIX." | grep -v reductions || true
  } >>"$RAW"
}

# Scrape until the replayer exits, then a few more times (its counters are
# gone once the process ends, the broker's queue depths are not).
while kill -0 "$pid" 2>/dev/null; do
  scrape
  sleep 0.2
done
wait "$pid" || { echo "replay failed:"; cat notebooks/data/replay-sample.log; exit 1; }
for _ in 1 2 3 4 5; do scrape; sleep 0.2; done

python3 notebooks/scrape_to_range.py "$RAW" >"$OUT"
echo "wrote $OUT ($(grep -c '^# SCRAPE' "$RAW") scrapes)"

bin/tributary streams delete --stream-prefix "$PREFIX"
# The replay checkpoint is the only key the replayer writes under its prefix.
# (redis-cli -u refuses a URL with an empty user name: split it.)
re='^redis://(:([^@]*)@)?([^:/]+):([0-9]+)(/([0-9]+))?'
[[ $TRIBUTARY_REDIS_URL =~ $re ]]
rcli() { REDISCLI_AUTH="${BASH_REMATCH[2]}" redis-cli -h "${BASH_REMATCH[3]}" -p "${BASH_REMATCH[4]}" -n "${BASH_REMATCH[6]:-0}" "$@"; }
rcli --scan --pattern "$PREFIX:*" | while read -r k; do rcli del "$k" >/dev/null; done
