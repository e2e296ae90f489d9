#!/usr/bin/env python3
"""Sampler and report of scripts/eval-elasticity.sh.

eval_sampler.py RUN_DIR SERVE_URL OUT.jsonl
    every second: speed workers alive (pid files of RUN_DIR/pids), the lag
    and events applied over all partitions (SERVE_URL/v1/status), one JSON
    line each, until killed.
eval_sampler.py --report SAMPLES.jsonl PHASES TARGET MODE COMMIT
    the JSON result on stdout.
"""
import glob
import json
import os
import sys
import time
import urllib.request


def alive(pidfile):
    try:
        pid = int(open(pidfile).read().strip())
        os.kill(pid, 0)
        # A zombie answers signal 0: read its state.
        return open(f"/proc/{pid}/stat").read().split(") ")[1][0] != "Z"
    except (OSError, ValueError, IndexError):
        return False


def sample(run, url, out):
    with open(out, "a") as f:
        while True:
            t = time.time()
            workers = sum(alive(p) for p in glob.glob(os.path.join(run, "pids", "speed*.pid")))
            rec = {"t": t, "workers": workers}
            try:
                with urllib.request.urlopen(url.rstrip("/") + "/v1/status", timeout=5) as r:
                    st = json.load(r)
                parts = st["speed"]["partitions"]
                rec["applied"] = sum(p.get("applied", 0) for p in parts)
                rec["lag"] = sum(p.get("lag", 0) for p in parts)
            except Exception as e:  # noqa: BLE001 - a missed sample is recorded as such
                rec["error"] = str(e)
            f.write(json.dumps(rec) + "\n")
            f.flush()
            time.sleep(max(0, 1 - (time.time() - t)))


def report(samples_path, phases_path, target, mode, commit):
    samples = [json.loads(l) for l in open(samples_path)]
    phases = []
    for line in open(phases_path):
        t, name, speed = line.split()
        phases.append({"start": float(t), "name": name, "speed": speed})
    t0 = phases[0]["start"]
    end = phases[-1]["start"]
    samples = [s for s in samples if t0 <= s["t"] <= end + 1]
    prev = None
    rows = []
    for s in samples:
        row = {"t": round(s["t"] - t0, 2), "workers": s["workers"], "lag": s.get("lag"), "events_per_s": None}
        if prev is not None and "applied" in s and "applied" in prev:
            row["events_per_s"] = round((s["applied"] - prev["applied"]) / (s["t"] - prev["t"]), 1)
        if "applied" in s:
            prev = s
        rows.append(row)
    # Worker-seconds: the integral of the worker count.
    ws = sum(rows[i]["workers"] * (rows[i + 1]["t"] - rows[i]["t"]) for i in range(len(rows) - 1))
    duration = rows[-1]["t"] - rows[0]["t"] if rows else 0
    peak_workers = max((r["workers"] for r in rows), default=0)
    peak = next(p for p in phases if p["name"] == "peak")
    pstart = peak["start"] - t0
    w_at_peak = next((r["workers"] for r in rows if r["t"] >= pstart), None)
    first_up = next((r["t"] for r in rows if r["t"] >= pstart and w_at_peak is not None and r["workers"] > w_at_peak), None)
    lag_over = next((r["t"] for r in rows if r["t"] >= pstart and (r["lag"] or 0) > target), None)
    lag_back = None
    if lag_over is not None:
        lag_back = next((r["t"] for r in rows if r["t"] > lag_over and r["lag"] is not None and r["lag"] <= target), None)
    # Every change of the pool size, and the first lag over the target
    # anywhere in the profile (a ramp before the peak may cross it first).
    resizes = [{"t": rows[i]["t"], "from": rows[i - 1]["workers"], "to": rows[i]["workers"]}
               for i in range(1, len(rows)) if rows[i]["workers"] != rows[i - 1]["workers"]]
    first_over = next((r["t"] for r in rows if (r["lag"] or 0) > target), None)
    first_up_any = next((x["t"] for x in resizes if first_over is not None and x["t"] >= first_over and x["to"] > x["from"]), None)
    summary = {
        "duration_s": round(duration, 1),
        "first_lag_over_target_s": first_over,
        "first_worker_added_after_it_s": round(first_up_any - first_over, 1) if first_up_any is not None else None,
        "resizes": len(resizes),
        "worker_seconds_autoscaled": round(ws, 1),
        "peak_workers": peak_workers,
        "worker_seconds_static_peak": round(peak_workers * duration, 1),
        "saving_fraction": round(1 - ws / (peak_workers * duration), 3) if peak_workers and duration else None,
        "reaction_first_worker_added_s": round(first_up - pstart, 1) if first_up is not None else None,
        "lag_over_target_at_s": round(lag_over - pstart, 1) if lag_over is not None else None,
        "lag_back_under_target_after_s": round(lag_back - lag_over, 1) if lag_back is not None else None,
        "max_lag": max((r["lag"] or 0 for r in rows), default=0),
        "max_events_per_s": max((r["events_per_s"] or 0 for r in rows), default=0),
        "samples_missed": sum(1 for r in rows if r["lag"] is None),
    }
    return {
        "command": f"scripts/eval-elasticity.sh {mode}",
        "commit": commit,
        "machine": {"cpus": os.cpu_count(), "host": os.uname().nodename},
        "lag_target_per_worker": target,
        "phases": [{"name": p["name"], "speed": p["speed"], "start_s": round(p["start"] - t0, 2)} for p in phases],
        "summary": summary,
        "resizes": resizes,
        "samples": rows,
    }


if __name__ == "__main__":
    if sys.argv[1] == "--report":
        print(json.dumps(report(sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5], sys.argv[6]), indent=1))
    else:
        sample(sys.argv[1], sys.argv[2], sys.argv[3])
