#!/usr/bin/env python3
"""Helper of scripts/eval-balance.sh.

eval_balance.py snap RUN_DIR      one JSON snapshot: per speed/batch worker
                                  process, its CPU ticks and its metrics.
eval_balance.py report BEFORE AFTER T0 T1 ROWS COMMIT [BBEFORE BAFTER B0 B1]
                                  the JSON result; the optional four are the
                                  snapshots and times around batch run --wait.
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
    """Each named metric summed over its labels; tributary_worker_tasks_total
    also per function (key tasks:FUNCTION)."""
    out = {}
    with urllib.request.urlopen(f"http://{addr}/metrics", timeout=3) as r:
        for line in r.read().decode().splitlines():
            m = re.match(r"^([a-z_]+)(\{[^}]*\})?\s+([0-9.e+-]+)$", line)
            if m and m.group(1) in names:
                out[m.group(1)] = out.get(m.group(1), 0) + float(m.group(3))
                fn = re.search(r'function="([^"]*)"', m.group(2) or "")
                if m.group(1) == "tributary_worker_tasks_total" and fn:
                    k = "tasks:" + fn.group(1)
                    out[k] = out.get(k, 0) + float(m.group(3))
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
                rec["metrics"] = scrape(addr, {"tributary_speed_events_applied_total", "tributary_speed_partitions_owned",
                                               "tributary_worker_tasks_total"})
            procs[name] = rec
        except (OSError, ValueError) as e:
            procs[name] = {"error": str(e)}
    return procs


def jain(xs):
    s, s2 = sum(xs), sum(x * x for x in xs)
    return s * s / (len(xs) * s2) if s2 else 1.0


def batch_report(before, after, t0, t1):
    """Tasks (by function) and CPU per batch worker during batch run --wait."""
    b, a = json.loads(before), json.loads(after)
    secs = float(t1) - float(t0)
    workers = []
    for name in sorted(a):
        if not name.startswith("worker") or name not in b or "pid" not in a[name] or b[name].get("pid") != a[name]["pid"]:
            continue
        am, bm = a[name].get("metrics", {}), b[name].get("metrics", {})
        w = {"name": name, "tasks": int(am.get("tributary_worker_tasks_total", 0) - bm.get("tributary_worker_tasks_total", 0)),
             "tasks_by_function": {k[6:]: int(v - bm.get(k, 0)) for k, v in sorted(am.items()) if k.startswith("tasks:") and v - bm.get(k, 0)},
             "cpu_seconds": round((a[name]["cpu_ticks"] - b[name]["cpu_ticks"]) / TICK, 2)}
        w["cpu_percent_of_one_core"] = round(100 * w["cpu_seconds"] / secs, 1)
        workers.append(w)
    total = sum(w["tasks"] for w in workers)
    cpu = sum(w["cpu_seconds"] for w in workers)
    for w in workers:
        w["task_share"] = round(w["tasks"] / total, 4) if total else None
        w["cpu_share"] = round(w["cpu_seconds"] / cpu, 4) if cpu else None
    summary = {
        "seconds": round(secs, 1),
        "batch_workers": len(workers),
        "tasks": total,
        "jain_tasks": round(jain([w["tasks"] for w in workers]), 4) if workers else None,
        "jain_cpu": round(jain([w["cpu_seconds"] for w in workers]), 4) if workers else None,
    }
    return {"command": "tributary batch run --wait", "summary": summary, "workers": workers}


def report(before, after, t0, t1, rows, commit, bbefore=None, bafter=None, b0=None, b1=None):
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
    out = {"command": f"scripts/eval-balance.sh {rows}", "commit": commit, "rows": int(rows),
           "machine": {"cpus": os.cpu_count(), "host": os.uname().nodename, "load_average": open("/proc/loadavg").read().split()[:3],
                       "note": "one VM shared with other engineers: CPU figures are noisy"},
           "summary": summary, "workers": [w for w in workers if w["name"].startswith("speed")]}
    if bbefore:
        out["batch"] = batch_report(bbefore, bafter, b0, b1)
    return out


if __name__ == "__main__":
    if sys.argv[1] == "snap":
        print(json.dumps(snap(sys.argv[2])))
    else:
        print(json.dumps(report(*sys.argv[2:12]), indent=1))
