#!/usr/bin/env python3
"""One cell of the throughput matrix (scripts/eval-matrix.sh), and the merge.

eval_matrix.py cell NAME FACTOR SPEED_WORKERS PARTITIONS FLUSH BATCH_WORKERS ENCODING ROWS PACED_ROWS BATCH OUT.json [VAR=VALUE,...]
    Runs one configuration on make cluster (RUN_DIR: $TRIBUTARY_CLUSTER_DIR):
    writes .run/cluster/env.local (fresh key and stream prefixes, the
    partitions, the flush interval, the pool sizes), restarts the roles
    (scripts/cluster.sh restart-roles), then measures three phases, each the
    same way in every cell:
      max     replay --speed max of ROWS flights, timed from the replay's
              start to the speed layer having accounted for them all:
              applied (serve's /v1/status, backed by Redis) or refused
              (late, future or wrong partition: the workers'
              tributary_speed_refused_events_total, recorded per kind):
              events/s applied, the largest lag;
      paced   PACED_ROWS more flights at 2,000 events/s (under every
              cell's capacity) by bin/evalfeed (tools/evalfeed), whose
              messages carry their publish time, which tributary replay's do
              not: the speed workers' event-to-view p50/p99 (publish to
              flush commit, per message) at a load the pipeline keeps up
              with; its messages are Arrow batches whatever the cell's
              encoding;
      batch   (BATCH=1) once the archivers hold every event, `tributary
              batch run --wait`: seconds, and tasks and CPU per batch worker
              (tributary_worker_tasks_total of each worker's /metrics).
    The optional last argument adds settings to env.local (e.g.
    TRIBUTARY_MAX_FUTURE=-1s). A sampler records every second the 1-minute load average, the machine's
    busy CPU (/proc/stat) and, per process of the cluster (pid files), its CPU
    and RSS, so each phase has CPU seconds and peak RSS per process and the
    CPU the rest of the machine (other engineers) used meanwhile.
eval_matrix.py merge COMMAND COMMIT OUT.json CELL.json...
    One document: the command, the commit, the machine, every cell.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACED_RATE = 2000


def log(msg):
    print(f"matrix: {msg}", file=sys.stderr, flush=True)


# --- processes and machine ------------------------------------------------

def kind_of(name):
    return re.sub(r"\d+$", "", name)


def proc_stat(pid):
    """CPU ticks (utime + stime) and RSS bytes of pid."""
    f = open(f"/proc/{pid}/stat").read().rsplit(") ", 1)[1].split()
    return int(f[11]) + int(f[12]), int(f[21]) * PAGE


def pids(run):
    out = {}
    for f in glob.glob(os.path.join(run, "pids", "*.pid")):
        name = os.path.basename(f)[:-4]
        if name.startswith("bridge-"):
            continue
        try:
            out[name] = int(open(f).read().strip())
        except (OSError, ValueError):
            pass
    return out


def machine_busy():
    """Busy and total jiffies of the whole machine (all CPUs)."""
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    idle = f[3] + f[4]
    return sum(f[:8]) - idle, sum(f[:8])


class Sampler:
    """Every second: load, machine CPU, per-process CPU and RSS; serve's status."""

    def __init__(self, run, url):
        self.run, self.url = run, url
        self.samples, self.status = [], []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._procs, daemon=True), threading.Thread(target=self._status, daemon=True)]
        for t in self.threads:
            t.start()

    def sample(self):
        """One sample now (the thread takes one a second; phases also take
        one at their start and end, so that a short phase has two)."""
        rec = {"t": time.time(), "load1": float(open("/proc/loadavg").read().split()[0]), "busy": machine_busy(), "procs": {}}
        for name, pid in pids(self.run).items():
            try:
                cpu, rss = proc_stat(pid)
                rec["procs"][name] = (pid, cpu, rss)
            except (OSError, IndexError, ValueError):
                pass
        with self.lock:
            self.samples.append(rec)
        return rec["t"]

    def _procs(self):
        while not self.stop.is_set():
            t = self.sample()
            self.stop.wait(max(0, 1 - (time.time() - t)))

    def _status(self):
        while not self.stop.is_set():
            t = time.time()
            try:
                st = self.read_status()
                self.status.append({"t": t, "applied": st[0], "lag": st[1]})
            except Exception as e:  # noqa: BLE001 - a missed sample is recorded as such
                self.status.append({"t": t, "error": str(e)})
            self.stop.wait(max(0, 1 - (time.time() - t)))

    def read_status(self):
        with urllib.request.urlopen(self.url.rstrip("/") + "/v1/status", timeout=5) as r:
            parts = json.load(r)["speed"]["partitions"]
        return sum(p.get("applied", 0) for p in parts), sum(p.get("lag", 0) for p in parts)

    def applied(self):
        return self.read_status()[0]

    def close(self):
        self.stop.set()
        for t in self.threads:
            t.join()

    def window(self, t0, t1):
        """Per-process CPU seconds and peak RSS, load and machine CPU over [t0, t1]."""
        with self.lock:
            s = sorted((x for x in self.samples if t0 <= x["t"] <= t1), key=lambda x: x["t"])
        if len(s) < 2:
            return None
        first, last = s[0], s[-1]
        secs = last["t"] - first["t"]
        procs = {}
        for name in sorted(set(first["procs"]) | set(last["procs"])):
            a, b = first["procs"].get(name), last["procs"].get(name)
            rss = max((x["procs"][name][2] for x in s if name in x["procs"]), default=0)
            rec = {"kind": kind_of(name), "rss_peak_mb": round(rss / 2**20, 1)}
            if a and b and a[0] == b[0]:
                cpu = (b[1] - a[1]) / TICK
                rec["cpu_seconds"] = round(cpu, 2)
                rec["cpu_percent_of_one_core"] = round(100 * cpu / secs, 1)
            procs[name] = rec
        busy = (last["busy"][0] - first["busy"][0]) / TICK
        ours = sum(p.get("cpu_seconds", 0) for p in procs.values())
        loads = [x["load1"] for x in s]
        return {
            "seconds": round(secs, 1),
            "load1": {"min": min(loads), "mean": round(sum(loads) / len(loads), 2), "max": max(loads)},
            "machine_cpu_busy_percent": round(100 * busy / (secs * os.cpu_count()), 1),
            "cluster_cpu_seconds": round(ours, 1),
            "other_cpu_seconds": round(busy - ours, 1),
            "processes": procs,
        }

    def lag(self, t0, t1):
        xs = [x["lag"] for x in self.status if t0 <= x["t"] <= t1 and "lag" in x]
        return max(xs, default=None)

    def missed(self, t0, t1):
        return sum(1 for x in self.status if t0 <= x["t"] <= t1 and "error" in x)


# --- metrics --------------------------------------------------------------

def scrape(addr):
    with urllib.request.urlopen(f"http://{addr}/metrics", timeout=5) as r:
        return r.read().decode()


def metrics_addr(pid):
    cmd = open(f"/proc/{pid}/cmdline").read().split("\0")
    return cmd[cmd.index("--metrics-addr") + 1] if "--metrics-addr" in cmd else None


def role_metrics(run, prefix):
    """name -> parsed samples of each role named prefixN: {(metric, labels): value}."""
    out = {}
    for name, pid in pids(run).items():
        if not re.match(rf"^{prefix}\d+$", name):
            continue
        try:
            text = scrape(metrics_addr(pid))
        except Exception as e:  # noqa: BLE001
            log(f"scrape of {name}: {e}")
            continue
        vals = {}
        for line in text.splitlines():
            m = re.match(r"^([a-z_]+)(\{[^}]*\})?\s+(\S+)$", line)
            if m:
                vals[(m.group(1), m.group(2) or "")] = float(m.group(3))
        out[name] = vals
    return out


def histogram(snaps, name):
    """Summed cumulative buckets {le: count} of a histogram over processes."""
    b = {}
    for vals in snaps.values():
        for (metric, labels), v in vals.items():
            if metric == name + "_bucket":
                le = re.search(r'le="([^"]+)"', labels).group(1)
                b[float(le)] = b.get(float(le), 0) + v
    return b


def hist_delta(before, after, name):
    a, b = histogram(after, name), histogram(before, name)
    return {le: a[le] - b.get(le, 0) for le in sorted(a)}


def quantile(buckets, q):
    """Prometheus' histogram_quantile: linear inside the bucket; None past the last finite bound."""
    if not buckets:
        return None
    total = buckets[float("inf")]
    if total <= 0:
        return None
    rank, prev_le, prev_c = q * total, 0.0, 0
    for le in sorted(buckets):
        c = buckets[le]
        if c >= rank:
            if le == float("inf"):
                return None
            return round(prev_le + (le - prev_le) * (rank - prev_c) / (c - prev_c), 4) if c > prev_c else le
        prev_le, prev_c = le, c
    return None


def latency(before, after):
    d = hist_delta(before, after, "tributary_speed_event_to_view_seconds")
    total = d.get(float("inf"), 0)
    finite = max((le for le in d if le != float("inf")), default=None)
    return {
        "messages": int(total),
        "p50_s": quantile(d, 0.5),
        "p99_s": quantile(d, 0.99),
        "over_last_bucket": int(total - d.get(finite, 0)) if finite else None,
        "last_bucket_s": round(finite, 3) if finite else None,
    }


def counter_sum(snap, metric):
    return sum(v for (m, _), v in snap.items() if m == metric)


def refused(snaps):
    """Events the speed workers left out of the views, per kind (late, future, partition)."""
    out = {}
    for vals in snaps.values():
        for (metric, labels), v in vals.items():
            if metric == "tributary_speed_refused_events_total":
                k = re.search(r'kind="([^"]*)"', labels).group(1)
                out[k] = out.get(k, 0) + int(v)
    return out


def refused_delta(before, after):
    a, b = refused(after), refused(before)
    return {k: v - b.get(k, 0) for k, v in sorted(a.items()) if v - b.get(k, 0)}


def wait_accounted(what, sampler, run, before, target, timeout, stall=120):
    """Until applied + refused events reach target; fails after stall
    seconds without progress, or timeout."""
    deadline, last, last_t = time.time() + timeout, -1, time.time()
    while True:
        try:
            n = sampler.applied() + sum(refused_delta(before, role_metrics(run, "speed")).values())
        except Exception:  # noqa: BLE001 - a transient error is retried until the timeout
            n = last
        if n >= target:
            return
        now = time.time()
        if n > last:
            last, last_t = n, now
        if now - last_t > stall or now > deadline:
            raise RuntimeError(f"{what}: {last} of {target} events applied or refused, no progress for {round(now - last_t)} s")
        time.sleep(0.5)


# --- the cell -------------------------------------------------------------

def sh(args, env, **kw):
    return subprocess.run(args, env=env, cwd=ROOT, check=True, **kw)


def wait_for(what, cond, timeout, every=0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if cond():
                return True
        except Exception:  # noqa: BLE001 - a transient error is retried until the timeout
            pass
        time.sleep(every)
    raise RuntimeError(f"{what}: not within {timeout} s")


def archived(env):
    out = subprocess.run(["bin/tributary", "batch", "status"], env=env, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return sum(p["events"] for p in json.loads(out).get("archive", {}).get("partitions", []))


def drop_keys(run, prefix):
    """UNLINK every key of prefix on the Redis primary (as make chaos does)."""
    base = int(os.environ["TRIBUTARY_CLUSTER_BASE_PORT"])
    env = dict(os.environ, REDISCLI_AUTH=open(os.path.join(run, "redis.secret")).read().strip())
    cli = ["redis-cli", "-h", "127.0.0.1"]
    got = subprocess.run(cli + ["-p", str(base + 50), "sentinel", "get-master-addr-by-name", "tributary"],
                         env=env, capture_output=True, text=True).stdout.split()
    if len(got) < 2:
        return
    keys = []
    # PREFIX:... and, for the scheduler's keys in one hash slot, {PREFIX}...
    for pattern in (prefix + ":*", "{" + prefix + "}*"):
        keys += subprocess.run(cli + ["-p", got[1], "--scan", "--pattern", pattern], env=env, capture_output=True, text=True).stdout.split()
    for i in range(0, len(keys), 500):
        subprocess.run(cli + ["-p", got[1], "unlink"] + keys[i:i + 500], env=env, capture_output=True)


def cell(name, factor, speed_n, parts, flush, batch_n, encoding, rows, paced_rows, batch, out, extra=""):
    run = os.environ.get("TRIBUTARY_CLUSTER_DIR", os.path.join(ROOT, ".run", "cluster"))
    sfx = str(int(time.time()))
    local = {
        "TRIBUTARY_KEY_PREFIX": f"matrix-{name}-{sfx}",
        "TRIBUTARY_STREAM_PREFIX": f"matrix.{name}.{sfx}",
        "TRIBUTARY_PARTITIONS": str(parts),
        "TRIBUTARY_FLUSH_INTERVAL": flush,
        "TRIBUTARY_CLUSTER_SPEED_WORKERS": str(speed_n),
        "TRIBUTARY_CLUSTER_BATCH_WORKERS": str(batch_n),
    }
    settings = dict(kv.split("=", 1) for kv in extra.split(",") if kv)
    local.update(settings)
    with open(os.path.join(run, "env.local"), "w") as f:
        f.writelines(f"{k}={v}\n" for k, v in local.items())
    env = dict(os.environ, **local)
    log(f"{name}: {speed_n} speed workers, {parts} partitions, flush {flush}, {batch_n} batch workers, {encoding}")
    sh(["scripts/cluster.sh", "restart-roles"], env, stdout=subprocess.DEVNULL)
    sh(["bin/tributary", "streams", "declare"], env, stdout=subprocess.DEVNULL)
    # Every partition owned by a speed worker before the clock starts.
    wait_for("partitions owned", lambda: sum(counter_sum(v, "tributary_speed_partitions_owned")
                                             for v in role_metrics(run, "speed").values()) == parts, 90)
    sampler = Sampler(run, env["TRIBUTARY_SERVE_URL"])
    wait_for("serve answers", lambda: sampler.applied() == 0, 60)
    time.sleep(2)
    producer = f"matrix-{sfx}"
    replay_log = open(os.path.join(run, "logs", "matrix-replay.log"), "a")
    res = {"name": name, "factor": factor, "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "config": {"speed_workers": speed_n, "partitions": parts, "flush_interval": flush,
                      "batch_workers": batch_n, "encoding": encoding, "rows": rows, "paced_rows": paced_rows, **settings}}
    try:
        # max: as fast as the broker takes them.
        before = role_metrics(run, "speed")
        t0 = sampler.sample()
        sh(["bin/tributary", "replay", "--speed", "max", "--limit", str(rows), "--producer", producer, "--reset",
            "--encoding", encoding, "--metrics-addr", ""], env, stdout=replay_log, stderr=replay_log)
        t_pub = time.time()
        wait_accounted("max phase", sampler, run, before, rows, 900)
        t1 = sampler.sample()
        after = role_metrics(run, "speed")
        per_worker = {w: counter_sum(after[w], "tributary_speed_events_applied_total") -
                      counter_sum(before.get(w, {}), "tributary_speed_events_applied_total") for w in after}
        applied = sampler.applied()
        res["max"] = {
            "replay_seconds": round(t_pub - t0, 2),
            "replay_events_per_s": round(rows / (t_pub - t0)),
            "seconds": round(t1 - t0, 2),
            "events_applied": applied,
            "events_per_s_applied": round(applied / (t1 - t0)),
            "events_refused": refused_delta(before, after),
            "max_lag_messages": sampler.lag(t0, t1),
            "status_samples_missed": sampler.missed(t0, t1),
            "event_to_view": latency(before, after),
            "events_applied_per_speed_worker": per_worker,
            "window": sampler.window(t0, t1),
        }
        log(f"{name}: max phase {res['max']['events_per_s_applied']} events/s applied ({res['max']['seconds']} s)")
        # paced: a load every cell keeps up with.
        before = after
        t0 = sampler.sample()
        sh(["bin/evalfeed", "-from", str(rows), "-to", str(rows + paced_rows), "-rate", str(PACED_RATE),
            "-producer", producer + "-paced"], env, stdout=replay_log, stderr=replay_log)
        t_pub = time.time()
        wait_accounted("paced phase", sampler, run, before, applied + paced_rows, 600)
        t1 = sampler.sample()
        after = role_metrics(run, "speed")
        res["paced"] = {
            "rate": PACED_RATE,
            "replay_seconds": round(t_pub - t0, 2),
            "offered_events_per_s": round(paced_rows / (t_pub - t0)),
            "seconds": round(t1 - t0, 2),
            "max_lag_messages": sampler.lag(t0, t1),
            "event_to_view": latency(before, after),
            "events_refused": refused_delta(before, after),
            "window": sampler.window(t0, t1),
        }
        log(f"{name}: paced phase p99 {res['paced']['event_to_view']['p99_s']} s")
        if batch:
            total = rows + paced_rows
            wait_for("archive complete", lambda: archived(env) >= total, 180, every=2)
            wb = role_metrics(run, "worker")
            t0 = sampler.sample()
            proc = subprocess.run(["bin/tributary", "batch", "run", "--wait"], env=env, cwd=ROOT, capture_output=True, text=True)
            t1 = sampler.sample()
            wa = role_metrics(run, "worker")
            tasks = {w: int(counter_sum(wa[w], "tributary_worker_tasks_total") - counter_sum(wb.get(w, {}), "tributary_worker_tasks_total"))
                     for w in wa}
            win = sampler.window(t0, t1)
            ntasks = sum(tasks.values())
            workers = {}
            for w in sorted(tasks):
                p = (win or {}).get("processes", {}).get(w, {})
                workers[w] = {"tasks": tasks[w], "task_share": round(tasks[w] / ntasks, 4) if ntasks else None,
                              "cpu_seconds": p.get("cpu_seconds"), "rss_peak_mb": p.get("rss_peak_mb")}
            m = re.search(r"tasks=(\d+)", proc.stderr + proc.stdout)
            res["batch"] = {"exit": proc.returncode, "seconds": round(t1 - t0, 2), "events": total,
                            "graph_tasks": int(m.group(1)) if m else None, "tasks_handled": ntasks,
                            "workers": workers, "window": win}
            if proc.returncode:
                res["batch"]["error"] = (proc.stderr or proc.stdout)[-2000:]
            log(f"{name}: batch run {res['batch']['seconds']} s, tasks per worker {tasks}")
    finally:
        sampler.close()
        replay_log.close()
        # The cell's streams and keys go (the figures are in the JSON): a Redis
        # and a broker that grow with every cell would slow the later ones.
        subprocess.run(["bin/tributary", "streams", "delete"], env=env, cwd=ROOT, capture_output=True)
        drop_keys(run, local["TRIBUTARY_KEY_PREFIX"])
        shutil.rmtree(os.path.join(run, "segments"), ignore_errors=True)
    json.dump(res, open(out, "w"), indent=1)


def merge(command, commit, out, cells):
    doc = {
        "command": command,
        "commit": commit,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "host": os.uname().nodename,
                    "note": "one VM shared with other engineers' builds and tests: each phase records the load "
                            "average and the CPU seconds the rest of the machine used (other_cpu_seconds); "
                            "compare cells of one run only"},
        "cells": [json.load(open(c)) for c in cells],
    }
    json.dump(doc, open(out, "w"), indent=1)


if __name__ == "__main__":
    if sys.argv[1] == "cell":
        a = sys.argv[2:]
        try:
            cell(a[0], a[1], int(a[2]), int(a[3]), a[4], int(a[5]), a[6], int(a[7]), int(a[8]), a[9] == "1", a[10], *a[11:12])
        except Exception as e:  # noqa: BLE001 - a failed cell is recorded, the matrix goes on
            log(f"{a[0]}: FAILED: {e}")
            json.dump({"name": a[0], "factor": a[1], "error": str(e)}, open(a[10], "w"), indent=1)
    elif sys.argv[1] == "merge":
        merge(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    else:
        sys.exit(__doc__)
