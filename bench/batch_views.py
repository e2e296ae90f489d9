"""The batch layer's two hourly views computed by pandas or Dask, the
like-for-like reference of the batch benchmark: what `tributary batch run`
computes from the archive (batch/partial's doc), from a CSV of the same
flights (time in µs since the epoch, origin, destination, delay).

  airport_hour  per (origin, hour): count, sum, delayed (delay >= 15), min,
                max, the exact delay histogram (flights per distinct delay)
                and the distinct destinations;
  route_hour    per (origin, destination, hour): the same without the
                destinations.

Usage: batch_views.py pandas|dask CSV [BEFORE]
Prints one JSON line: tool, load_s (read the CSV into memory), compute_s,
and per view the buckets, events and histogram entries computed, and the
buckets of the hours before BEFORE (Unix seconds; the benchmark passes the
reconciliation's end, whose bucket count it compares).

pandas reads the airport codes as categories (as the batch layer reads
Parquet's dictionary indices) and sorts its groups, as the batch view's rows
are sorted. Dask runs a LocalCluster of 2 workers x 1 thread,
worker-saturation inf, MALLOC_TRIM_THRESHOLD_ unset (as bench/batch_stats.py's
tuned Dask), with the groupbys' results spread over SPLIT_OUT partitions:
1, 2, 4 and 8 measured 13.2, 9.8, 9.2 and 9.3 s of compute on this 2-core
machine (2026-12-01), so 4; its results are hash-partitioned, not sorted.
"""
import json
import sys
import time

VIEWS = (("airport_hour", ["origin"]), ("route_hour", ["origin", "destination"]))
HOUR_US = 3_600_000_000
SPLIT_OUT = 4


def with_hour(df):
    return df.assign(hour=(df["time"] // HOUR_US) * 3600, delayed=(df["delay"] >= 15).astype("int64"))


def views_pandas(df):
    out = {}
    for name, keys in VIEWS:
        by = keys + ["hour"]
        stats = df.groupby(by, sort=True, observed=True).agg(
            count=("delay", "size"), sum=("delay", "sum"), delayed=("delayed", "sum"),
            min=("delay", "min"), max=("delay", "max"))
        hist = df.groupby(by + ["delay"], sort=True, observed=True).size()
        res = {"stats": stats, "hist": hist}
        if name == "airport_hour":
            res["destinations"] = df.groupby(["origin", "hour", "destination"], sort=True, observed=True).size()
        out[name] = res
    return out


def views_dask(ddf):
    import dask
    parts, names = [], []
    for name, keys in VIEWS:
        by = keys + ["hour"]
        g = ddf.groupby(by)
        parts.append(g.agg({"delay": ["count", "sum", "min", "max"], "delayed": "sum"}, split_out=SPLIT_OUT))
        names.append((name, "stats"))
        parts.append(ddf.groupby(by + ["delay"]).size(split_out=SPLIT_OUT))
        names.append((name, "hist"))
        if name == "airport_hour":
            parts.append(ddf.groupby(["origin", "hour", "destination"]).size(split_out=SPLIT_OUT))
            names.append((name, "destinations"))
    out = {}
    for (name, what), res in zip(names, dask.compute(*parts)):
        out.setdefault(name, {})[what] = res
    return out


def summary(views, before):
    out = {}
    for name, res in views.items():
        stats = res["stats"]
        # Dask's agg names its columns (delay, count) and so on.
        count = stats["count"] if "count" in stats.columns else stats[("delay", "count")]
        hours = stats.index.get_level_values("hour")
        v = {"buckets": len(stats), "events": int(count.sum()), "hist_entries": len(res["hist"])}
        if before:
            v["buckets_before"] = int((hours < before).sum())
        if "destinations" in res:
            v["destinations"] = len(res["destinations"])
        out[name] = v
    return out


def main():
    tool, path = sys.argv[1], sys.argv[2]
    before = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    if tool == "pandas":
        import pandas as pd
        dtypes = {"time": "int64", "origin": "category", "destination": "category", "delay": "int32"}
        t0 = time.perf_counter()
        df = pd.read_csv(path, dtype=dtypes)
        t1 = time.perf_counter()
        views = views_pandas(with_hour(df))
        t2 = time.perf_counter()
    elif tool == "dask":
        import dask
        import dask.dataframe as dd
        from distributed import Client, LocalCluster, wait
        dtypes = {"time": "int64", "origin": "object", "destination": "object", "delay": "int32"}
        cfg = {"distributed.nanny.pre-spawn-environ": {}, "distributed.scheduler.worker-saturation": float("inf")}
        with dask.config.set(cfg):
            with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster):
                t0 = time.perf_counter()
                ddf = with_hour(dd.read_csv(path, dtype=dtypes, blocksize="16MB")).persist()
                wait(ddf)
                t1 = time.perf_counter()
                views = views_dask(ddf)
                t2 = time.perf_counter()
    else:
        sys.exit("usage: batch_views.py pandas|dask CSV [BEFORE]")
    print(json.dumps({"tool": tool, "load_s": t1 - t0, "compute_s": t2 - t1, "views": summary(views, before)}))


if __name__ == "__main__":
    main()
