"""Sweep benchmark: 10,000 simulated calls in this process, on a 2-process pool, and on a
2-worker Dask LocalCluster, measured in the same run (REFERENCE §4 has the peers' figures).

Run with ``make bench`` (or ``.venv/bin/python bench/bench_sweep.py``). Targets: the pool
runs >= 1.6x the single-process rate; Dask takes <= 1.5x the pool's time (start-up
included). Writes ``bench/results/sweep.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import agentlab as al

RESULTS = Path(__file__).parent / "results" / "sweep.json"


def baseline(runner):
    pass


def experiment(calls: int) -> al.Experiment:
    n = len(al.datasets.load("scenarios"))
    return al.Experiment(configs={"baseline": baseline}, scenarios="scenarios",
                         repeats=max(1, round(calls / n)), seed=0, batch_size=100)


def timed(calls: int, executor, **kw) -> tuple[float, int]:
    exp = experiment(calls)
    t0 = time.perf_counter()
    rec = exp.run(executor, progress=False, **kw)
    return time.perf_counter() - t0, rec.calls_done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    args = parser.parse_args()
    single, n = timed(args.calls, None)
    pool, _ = timed(args.calls, "processes", workers=2)
    from distributed import Client, LocalCluster

    t0 = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, host="127.0.0.1") as cluster, \
            Client(cluster) as client:
        start = time.perf_counter() - t0
        dask, _ = timed(args.calls, client)
    dask_total = dask + start
    speedup, dask_ratio = single / pool, dask_total / pool
    print(f"{n} calls: 1 process {single:.1f} s ({n / single:,.0f} calls/s), 2-process pool "
          f"{pool:.1f} s ({speedup:.2f}x, target >= 1.6), Dask {dask:.1f} s + {start:.1f} s "
          f"start ({dask_ratio:.2f}x the pool, target <= 1.5)")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({
        "python": sys.version.split()[0], "calls": n, "single_s": round(single, 2),
        "pool_s": round(pool, 2), "dask_s": round(dask, 2), "dask_start_s": round(start, 2),
        "pool_speedup": round(speedup, 2), "dask_over_pool": round(dask_ratio, 2)},
        indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
