#!/usr/bin/env python3
"""Convert curl scrapes of /metrics into a Prometheus range-query answer.

Input: a text file of blocks, each starting with "# SCRAPE <unix seconds>"
followed by Prometheus exposition-format lines (what capture_replay.sh writes).
Output (stdout): the JSON that /api/v1/query_range returns, resultType
"matrix": one series per metric name and label set, values [[t, "v"], ...].
Histogram buckets are left out (their _sum and _count are kept).
"""
import json
import re
import sys

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def convert(lines):
    series = {}
    ts = None
    for raw in lines:
        line = raw.strip()
        if line.startswith("# SCRAPE "):
            ts = round(float(line.split()[2]), 3)
            continue
        if not line or line.startswith("#") or ts is None:
            continue
        m = LINE.match(line)
        if not m:
            continue
        name, labels, value = m.group(1), m.group(3) or "", m.group(4)
        if name.endswith("_bucket"):
            continue
        metric = {"__name__": name}
        metric.update(dict(LABEL.findall(labels)))
        key = tuple(sorted(metric.items()))
        series.setdefault(key, {"metric": metric, "values": []})["values"].append([ts, value])
    result = sorted(series.values(), key=lambda s: sorted(s["metric"].items()))
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        json.dump(convert(f), sys.stdout, indent=None, separators=(",", ":"))
    sys.stdout.write("\n")
