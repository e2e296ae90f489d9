#!/usr/bin/env bash
# The demo: the pipeline on this machine. Run through `make demo`, which
# installs what is missing, starts the services, fetches the data set and
# builds bin/tributary first.
set -euo pipefail
cd "$(dirname "$0")/.."
speed=${TRIBUTARY_SPEED:-86400}
echo "demo: replaying the 3,000,000 flights of 2001 into the stream queues at ${speed}x real time"
echo "demo: replay metrics at http://127.0.0.1:9100/metrics, RabbitMQ's at ${TRIBUTARY_RABBITMQ_METRICS_URL:-}"
echo "demo: Ctrl-C stops it; running it again continues from where it stopped"
exec bin/tributary replay --data data/flights-3m.parquet --speed "$speed"
