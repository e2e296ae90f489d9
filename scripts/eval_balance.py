#!/usr/bin/env python3
"""Helper of scripts/eval-balance.sh.

eval_balance.py snap RUN_DIR      one JSON snapshot: per speed/batch worker
                                  process, its CPU ticks and its metrics.
eval_balance.py report BEFORE AFTER T0 T1 ROWS COMMIT   the JSON result.
"""
import glob
import json
import os
import re
import sys
import urllib.request

TICK = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid):
    f = open(f"/proc/{pid}/stat").read().split(") ")[1].split()
    return int(f[11]) + int(f[12])  # utime + stime


def metrics_addr(pid):
    cmd = open(f"/proc/{pid}/cmdline").read().split("\0")
    return cmd[cmd.index("--metrics-addr") + 1] if "--metrics-addr" in cmd else None


def scrape(addr, names):
    out = {}
    with urllib.request.urlopen(f"http://{addr}/metrics", timeout=3) as r:
        for line in r.read().decode().splitlines():
            m = re.match(r"^([a-z_]+)(\{[^}]*\})?\s+([0-9.e+-]+)$", line)
            if m and m.group(1) in names:
                out[m.group(1)] = out.get(m.group(1), 0) + float(m.group(3))
    return out


def snap(run):
    procs = {}
    for f in glob.glob(os.path.join(run, "pids", "*.pid")):
        name = os.path.basename(f)[:-4]
        if not re.match(r"^(speed|worker)\d+$", name):
            continue
        try:
            pid = int(open(f).read().strip())
            rec = {"pid": pid, "cpu_ticks": cpu_ticks(pid)}
            addr = metrics_addr(pid)
            if addr and not addr.endswith(":0"):
                rec["metrics"] = scrape(addr, {"tributary_speed_events_applied_total", "tributary_speed_partitions_owned"})
            procs[name] = rec
        except (OSError, ValueError) as e:
            procs[name] = {"error": str(e)}
    return procs


def jain(xs):
    s, s2 = sum(xs), sum(x * x for x in xs)
    return s * s / (len(xs) * s2) if s2 else 1.0


def report(before, after, t0, t1, rows, commit):
    b, a = json.loads(before), json.loads(after)
    secs = float(t1) - float(t0)
    workers = []
    for name in sorted(a):
        if name not in b or "pid" not in a[name] or b[name].get("pid") != a[name]["pid"]:
            continue
        w = {"name": name, "cpu_seconds": round((a[name]["cpu_ticks"] - b[name]["cpu_ticks"]) / TICK, 2)}
        w["cpu_percent_of_one_core"] = round(100 * w["cpu_seconds"] / secs, 1)
        if "metrics" in a[name] and "metrics" in b[name]:
            am, bm = a[name]["metrics"], b[name]["metrics"]
            w["events_applied"] = am.get("tributary_speed_events_applied_total", 0) - bm.get("tributary_speed_events_applied_total", 0)
            w["partitions_owned"] = am.get("tributary_speed_partitions_owned", 0)
        workers.append(w)
    speed = [w for w in workers if w["name"].startswith("speed") and "events_applied" in w]
    total = sum(w["events_applied"] for w in speed)
    for w in speed:
        w["event_share"] = round(w["events_applied"] / total, 4) if total else None
    summary = {
        "seconds": round(secs, 1),
        "speed_workers": len(speed),
        "events_applied": total,
        "events_per_s": round(total / secs, 1) if secs else None,
        "jain_events": round(jain([w["events_applied"] for w in speed]), 4) if speed else None,
        "jain_cpu_speed": round(jain([w["cpu_seconds"] for w in speed]), 4) if speed else None,
        "partitions_per_worker": [w["partitions_owned"] for w in speed],
    }
    return {"command": f"scripts/eval-balance.sh {rows}", "commit": commit, "rows": int(rows),
            "machine": {"cpus": os.cpu_count(), "host": os.uname().nodename},
            "summary": summary, "workers": workers}


if __name__ == "__main__":
    if sys.argv[1] == "snap":
        print(json.dumps(snap(sys.argv[2])))
    else:
        print(json.dumps(report(*sys.argv[2:8]), indent=1))
