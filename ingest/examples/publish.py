#!/usr/bin/env python3
"""Publishes JSON flight events into Tributary's stream queues with pika.

The README's external-client example, runnable: publisher confirms and
`mandatory`, so that a message the broker did not store, or could not route
to a queue (a wrong queue name or partition count), raises instead of
vanishing.

    TRIBUTARY_AMQP_URL='amqp://user:pw@127.0.0.1:5690/%2F' \
        python3 publish.py [--prefix tributary.flights] [--partitions 8] < events.jsonl

One JSON event per input line; the partition is computed from its origin.
"""
import argparse
import json
import os
import sys

import pika


def partition(origin: str, partitions: int) -> int:
    """FNV-1a 32-bit of the origin code, modulo the partition count."""
    h = 0x811C9DC5
    for c in origin.encode():
        h = ((h ^ c) * 0x01000193) & 0xFFFFFFFF
    return h % partitions


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prefix", default="tributary.flights")
    ap.add_argument("--partitions", type=int, default=8)
    args = ap.parse_args()
    url = os.environ.get("TRIBUTARY_AMQP_URL")
    if not url:
        print("set TRIBUTARY_AMQP_URL (source .run/env)", file=sys.stderr)
        return 2
    conn = pika.BlockingConnection(pika.URLParameters(url.split(",")[0]))
    ch = conn.channel()
    ch.confirm_delivery()  # basic_publish now waits for the broker's ack
    n = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        event = json.loads(line)
        queue = f"{args.prefix}.{partition(event['origin'], args.partitions)}"
        try:
            ch.basic_publish(
                exchange="",
                routing_key=queue,
                body=json.dumps(event),
                properties=pika.BasicProperties(content_type="application/json", delivery_mode=2),
                mandatory=True,  # unroutable -> UnroutableError, not silence
            )
        except pika.exceptions.UnroutableError:
            print(f"event {event.get('id')}: queue {queue} does not exist (unroutable)", file=sys.stderr)
            return 1
        except pika.exceptions.NackError:
            print(f"event {event.get('id')}: the broker refused it (nack)", file=sys.stderr)
            return 1
        n += 1
        print(f"{queue} {event.get('id')}")
    conn.close()
    print(f"published {n} events, each confirmed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
