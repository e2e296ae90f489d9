#!/usr/bin/env python3
"""Cost of each deployment size, per million events, and the autoscaler's saving.

    python3 scripts/eval-cost.py > bench/cost/cost.json

The prices and the formula are infra/terraform/locals.tf's (the `cost`
output of `make infra`): this script reads the price table from that file
and applies the same sums, and checks itself against the totals that
infra/terraform/tests/plan.tftest.hcl asserts, so the two cannot drift.
The prices are 2024 us-central1 list prices, NOT verified online.
Throughput: make bench's bench/results/latest.json (the speed layer's
applied events/s), else an older docs/benchmarks.md figure. Saving: from
bench/elasticity/elasticity-*.json (worker-seconds against static peak).
"""
import glob
import json
import os
import re
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
locals_tf = open(os.path.join(root, "infra/terraform/locals.tf")).read()


def num(name):
    m = re.search(rf"^\s*{re.escape(name)}\s*=\s*([0-9.]+)", locals_tf, re.M)
    if not m:
        sys.exit(f"eval-cost: {name} not found in locals.tf")
    return float(m.group(1))


prices = {m.group(1): float(m.group(2)) for m in re.finditer(r'"(e2-[a-z0-9-]+)"\s*=\s*([0-9.]+)', locals_tf)}
sizes = {}
for m in re.finditer(r"(\w+)\s*=\s*\{\s*broker\s*=\s*\"([^\"]+)\",\s*redis\s*=\s*\"([^\"]+)\",\s*control\s*=\s*\"([^\"]+)\",\s*monitor\s*=\s*\"([^\"]+)\"\s*"
                     r"speed\s*=\s*\"([^\"]+)\",\s*batch\s*=\s*\"([^\"]+)\",\s*speed_workers\s*=\s*(\d+),\s*batch_workers\s*=\s*(\d+),\s*broker_disk_gb\s*=\s*(\d+)", locals_tf):
    k = m.groups()
    sizes[k[0]] = dict(broker=k[1], redis=k[2], control=k[3], monitor=k[4], speed=k[5], batch=k[6],
                       speed_workers=int(k[7]), batch_workers=int(k[8]), broker_disk_gb=int(k[9]))
disk_default = 20  # variables.tf disk_size_gb
p_disk, p_ipv4, p_fr, p_nat, hpm = (num(n) for n in
                                    ("price_disk_gb_month", "price_ipv4_hour", "price_forwarding_rule_hr", "price_nat_vm_hour", "hours_per_month"))


def cost(size, speed_workers=None, batch_workers=None):
    s = sizes[size]
    sw = s["speed_workers"] if speed_workers is None else speed_workers
    bw = s["batch_workers"] if batch_workers is None else batch_workers
    static = [("e2-micro", 10)] + [(s["broker"], s["broker_disk_gb"])] * 3 + [(s["redis"], disk_default)] * 2 \
        + [(s["control"], disk_default)] * 2 + [(s["monitor"], disk_default)]
    vms = static + [(s["speed"], disk_default)] * sw + [(s["batch"], disk_default)] * bw
    hourly = {
        "vms": sum(prices[t] for t, _ in vms),
        "disks": sum(d for _, d in vms) * p_disk / hpm,
        "ipv4": 2 * p_ipv4,
        "lb": p_fr,
        "nat": (len(vms) - 1) * p_nat,
    }
    total = sum(hourly.values())
    per_worker = {k: prices[s[k]] + disk_default * p_disk / hpm + p_nat for k in ("speed", "batch")}
    return {"size": size, "vms": len(vms), "speed_workers": sw, "batch_workers": bw,
            "hourly": {k: round(v, 6) for k, v in hourly.items()}, "total_per_hour": round(total, 6),
            "total_per_month": round(total * hpm, 2), "per_worker_hour": {k: round(v, 6) for k, v in per_worker.items()}}


# The self-check: the figures terraform test asserts (plan.tftest.hcl).
for size, want in (("small", 0.2745438), ("medium", 0.4335602), ("large", 1.4299272)):
    got = cost(size)["total_per_hour"]
    if abs(got - want) > 1e-5:
        sys.exit(f"eval-cost: {size} costs {got}/h here but {want}/h in terraform test: the formula drifted")


def throughput():
    # make bench's full run: the speed layer's applied events/s on make cluster.
    latest = os.path.join(root, "bench/results/latest.json")
    if os.path.exists(latest):
        d = json.load(open(latest))
        eps = (d.get("speed") or {}).get("applied_events_per_s")
        if isinstance(eps, (int, float)) and eps > 0:
            return {"events_per_s": eps, "source": "bench/results/latest.json (speed.applied_events_per_s, " + d.get("id", "") + ")"}
    return {"events_per_s": 53835, "source": "docs/benchmarks.md of 2026-11-25 (speed layer, 1 worker, Arrow, 1M flights)"}


tp = throughput()
out = {"command": "python3 scripts/eval-cost.py", "prices": "infra/terraform/locals.tf: us-central1 on-demand list prices as of 2024, NOT verified online",
       "sizes": [cost(s) for s in ("small", "medium", "large")], "throughput": tp}
for c in out["sizes"]:
    # One deployment processing at the measured rate all hour long.
    c["usd_per_million_events"] = round(c["total_per_hour"] / (tp["events_per_s"] * 3600) * 1e6, 6)

saving = []
for f in sorted(glob.glob(os.path.join(root, "bench/elasticity/elasticity-*.json"))):
    d = json.load(open(f))["summary"]
    if not d.get("peak_workers") or not d.get("duration_s"):
        continue
    med = cost("medium")
    w = med["per_worker_hour"]["speed"]
    static = d["worker_seconds_static_peak"] / 3600 * w
    auto = d["worker_seconds_autoscaled"] / 3600 * w
    saving.append({"profile": os.path.relpath(f, root), "duration_s": d["duration_s"], "peak_speed_workers": d["peak_workers"],
                   "speed_worker_usd_per_hour": w, "usd_static_peak": round(static, 6), "usd_autoscaled": round(auto, 6),
                   "saving_fraction": d["saving_fraction"],
                   # The same profile repeated all month: the speed pool's share of the medium size's bill.
                   "usd_per_month_static_peak_pool": round(d["peak_workers"] * w * 730, 2),
                   "usd_per_month_saved_pool": round(d["saving_fraction"] * d["peak_workers"] * w * 730, 2)})
out["autoscaler_saving"] = saving
json.dump(out, sys.stdout, indent=1)
print()
