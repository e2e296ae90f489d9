"""Dask distributed side of bench/scheduler.sh: 10,000 independent no-op
tasks and a tree reduction of 1,000 leaves (fan-in 8) on a LocalCluster of 2
single-threaded worker processes, out of the box and with
distributed.scheduler.worker-saturation: inf. The nanny's
MALLOC_TRIM_THRESHOLD_ is unset for a fair comparison. Prints lines
"system shape tasks seconds tasks_per_s" like bench/scheduler."""
import sys
import time

import dask
from distributed import Client, LocalCluster, wait


def noop(*_):
    return None


def independent(client, n):
    start = time.perf_counter()
    futs = client.map(noop, range(n), pure=False)
    wait(futs)
    return n, time.perf_counter() - start


def tree(client, leaves, fan_in):
    dsk = {}
    level = []
    for i in range(leaves):
        dsk[f"l-{i}"] = (noop, i)
        level.append(f"l-{i}")
    depth = 0
    while len(level) > 1:
        depth += 1
        nxt = []
        for j in range(0, len(level), fan_in):
            k = f"r-{depth}-{len(nxt)}"
            dsk[k] = (noop, *level[j:j + fan_in])
            nxt.append(k)
        level = nxt
    start = time.perf_counter()
    client.get(dsk, level[0], sync=True)
    return len(dsk), time.perf_counter() - start


def main():
    n, leaves, fan_in = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    for label, cfg in (("dask", {}), ("dask-tuned", {"distributed.scheduler.worker-saturation": float("inf")})):
        cfg = dict(cfg)
        cfg["distributed.nanny.pre-spawn-environ"] = {}
        with dask.config.set(cfg):
            with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
                independent(client, 500)  # warm-up
                cnt, el = independent(client, n)
                print(f"{label} independent {cnt} {el:.3f} {cnt / el:.0f}", flush=True)
                cnt, el = tree(client, leaves, fan_in)
                print(f"{label} tree {cnt} {el:.3f} {cnt / el:.0f}", flush=True)


if __name__ == "__main__":
    main()
