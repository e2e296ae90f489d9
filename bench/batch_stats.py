"""Per-airport exact delay statistics of the flights CSV, for the batch-layer
benchmark: count, mean, p50/p95/p99 (nearest rank), min, max, delayed share
(delay >= 15) and distinct destinations, per origin airport.

Usage: batch_stats.py pandas|dask|dask-default CSV
Prints one JSON line: tool, load_s (read the CSV into memory), compute_s.
dask runs a LocalCluster of 2 workers x 1 thread with MALLOC_TRIM_THRESHOLD_
unset (the nanny would set it; see docs/benchmarks.md); dask-default leaves
Dask's configuration as it ships.
"""
import json
import math
import sys
import time

import numpy as np
import pandas as pd

QS = (0.5, 0.95, 0.99)


def stats(df):
    s = df["delay"].to_numpy()
    s = np.sort(s)
    n = len(s)
    out = {"count": n, "mean": float(s.mean()), "min": int(s[0]), "max": int(s[-1]),
           "delayed": float((s >= 15).mean()), "distinct": int(df["destination"].nunique())}
    for q in QS:
        out["p%g" % (q * 100)] = int(s[max(1, min(n, math.ceil(q * n))) - 1])
    return pd.Series(out)


def main():
    tool, path = sys.argv[1], sys.argv[2]
    dtypes = {"origin": "object", "destination": "object", "delay": "int32"}
    if tool == "pandas":
        t0 = time.perf_counter()
        df = pd.read_csv(path, dtype=dtypes)
        t1 = time.perf_counter()
        res = df.groupby("origin")[["delay", "destination"]].apply(stats)
        t2 = time.perf_counter()
    else:
        import dask
        import dask.dataframe as dd
        from distributed import Client, LocalCluster, wait
        cfg = {}
        if tool == "dask":
            cfg["distributed.nanny.pre-spawn-environ"] = {}
        with dask.config.set(cfg):
            with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster):
                t0 = time.perf_counter()
                ddf = dd.read_csv(path, dtype=dtypes, blocksize="16MB").persist()
                wait(ddf)
                t1 = time.perf_counter()
                meta = {"count": "i8", "mean": "f8", "min": "i8", "max": "i8", "delayed": "f8", "distinct": "i8",
                        "p50": "i8", "p95": "i8", "p99": "i8"}
                res = ddf.groupby("origin")[["delay", "destination"]].apply(stats, meta=meta).compute()
                t2 = time.perf_counter()
    print(json.dumps({"tool": tool, "load_s": t1 - t0, "compute_s": t2 - t1, "groups": len(res),
                      "flights": int(res["count"].sum())}))


if __name__ == "__main__":
    main()
