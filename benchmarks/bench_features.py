"""Benchmarks of the feature engine: batch over 1M transactions, online in-process and Redis.

Run: ``.venv/bin/python benchmarks/bench_features.py`` (``--help`` for options). Prints one line
per measurement and, with ``--json PATH``, writes them as JSON. Targets (docs/benchmarks.md):
batch default set over 1,000,000 transactions < 20 s and < 4 GB peak; online in-process
compute + update p99 < 100 µs; online Redis one round trip per transaction, p99 < 1 ms.

The machine's load is printed beside the figures (``calibration``: seconds for a 1M-step
Python loop, ~0.03 s on an idle modern core) because shared machines move them a lot.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from fraudwatch._speedups import compiled_modules
from fraudwatch.features import (
    MemoryStateStore,
    OnlineExecutor,
    RedisStateStore,
    build_snapshot,
    compute_batch,
    default_feature_set,
)
from fraudwatch.simulate import SimulationConfig, simulate
from machine import calibration, memory_probe

RESULTS: dict[str, Any] = {}


def report(name: str, value: float, unit: str, target: str = "") -> None:
    """Print and record one figure."""
    RESULTS[name] = {"value": round(value, 3), "unit": unit, "target": target}
    suffix = f"   (target {target})" if target else ""
    print(f"{name:<44} {value:>12,.2f} {unit}{suffix}", flush=True)


def dataset(rows: int, cache: Path) -> Path:
    """A simulated parquet file of about ``rows`` transactions (cached)."""
    path = cache / f"bench-features-{rows}.parquet"
    if not path.exists():
        days = 60
        customers = max(50, int(rows / (1.5 * days)))
        df = simulate(SimulationConfig(customers=customers, days=days, seed=7))
        cache.mkdir(parents=True, exist_ok=True)
        df.head(rows).write_parquet(path)
    return path


def batch_child(path: str) -> None:
    """Run in a fresh process: time compute_batch and report peak memory (JSON on stdout)."""
    data = pl.read_parquet(path)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    fs = default_feature_set()
    start = time.perf_counter()
    out = compute_batch(fs, data)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "rows": data.height,
                "features": out.width - 1,
                "seconds": seconds,
                "peak_mb": peak / 1024,
                "input_mb": base / 1024,
            }
        )
    )


def bench_batch(path: Path) -> None:
    """Batch executor over the whole file, in a child process (clean peak-memory figure)."""
    proc = subprocess.run(
        [sys.executable, __file__, "--batch-child", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    report(
        f"batch: {got['rows']:,} rows x {got['features']} features", got["seconds"], "s", "< 20 s"
    )
    report("batch: peak memory of the process", got["peak_mb"], "MB", "< 4096 MB")
    report("batch: rows per second", got["rows"] / got["seconds"], "rows/s")


def _latencies(
    ex: OnlineExecutor, rows: list[dict[str, Any]], warm: int
) -> tuple[np.ndarray, np.ndarray]:
    """Wall-clock and thread-CPU microseconds of compute_and_update per row after ``warm``.

    CPU time leaves out the time the thread waited for a core, which on a shared, overloaded
    machine dominates the wall-clock tail; wall time is what a caller sees.
    """
    for r in rows[:warm]:
        ex.compute_and_update(r)
    gc.collect()
    gc.freeze()  # as the service does after start-up
    wall = np.empty(len(rows) - warm)
    cpu = np.empty(len(rows) - warm)
    clock, cpu_clock = time.perf_counter_ns, time.thread_time_ns
    for i, r in enumerate(rows[warm:]):
        c = cpu_clock()
        t = clock()
        ex.compute_and_update(r)
        wall[i] = clock() - t
        cpu[i] = cpu_clock() - c
    gc.unfreeze()
    return wall / 1000.0, cpu / 1000.0


def _percentiles(prefix: str, wall: np.ndarray, cpu: np.ndarray, target: str) -> None:
    report(f"{prefix} p50", float(np.percentile(wall, 50)), "µs")
    report(f"{prefix} p99", float(np.percentile(wall, 99)), "µs", target)
    report(f"{prefix} p99.9", float(np.percentile(wall, 99.9)), "µs")
    report(f"{prefix} CPU p50", float(np.percentile(cpu, 50)), "µs")
    report(f"{prefix} CPU p99", float(np.percentile(cpu, 99)), "µs")


def bench_online(
    path: Path, history_days: int, n: int, redis_url: str | None, redis_n: int
) -> None:
    """Per-transaction compute_and_update latency at steady state, in-process and on Redis.

    The store starts warm, as the service does: a snapshot of the ``history_days`` before the
    timed rows (longer than every window and label delay of the default set) is loaded first,
    so cards, merchants and terminals carry a month of events, not the first hours of one.
    """
    df = pl.read_parquet(path).sort("timestamp", maintain_order=True)
    cut = df["timestamp"].min() + timedelta(days=history_days)
    history = df.filter(pl.col("timestamp") < cut)
    rows = df.filter(pl.col("timestamp") >= cut).drop("is_fraud", "fraud_scenario").to_dicts()
    fs = default_feature_set()
    start = time.perf_counter()
    snapshot = build_snapshot(fs, history)
    report("online: snapshot of history built", time.perf_counter() - start, "s")
    report("online: history rows in the snapshot", history.height, "rows")
    del history, df
    warm = 2_000
    memory = MemoryStateStore()
    ex = OnlineExecutor(fs, memory)
    ex.load_snapshot(snapshot)
    report("online memory: events held after loading", memory.event_count(ex.plan), "events")
    wall, cpu = _latencies(ex, rows[: warm + n], warm)
    _percentiles("online memory: compute+update", wall, cpu, "< 100 µs")
    del ex, memory
    if redis_url is None:
        return
    store = RedisStateStore(redis_url, prefix=f"fwbench:{uuid.uuid4().hex[:8]}:")
    ex = OnlineExecutor(fs, store)
    try:
        start = time.perf_counter()
        ex.load_snapshot(snapshot)
        report("online redis: snapshot loaded", time.perf_counter() - start, "s")
        start = time.perf_counter()
        for i in range(0, warm, 500):
            ex.compute_and_update_many(rows[i : min(i + 500, warm)])
        replay = time.perf_counter() - start
        report("online redis: pipelined replay throughput", warm / replay, "tx/s")
        wall, cpu = _latencies(ex, rows[warm : 2 * warm + redis_n], warm)
        _percentiles("online redis (1 EVALSHA): compute+update", wall, cpu, "< 1000 µs")
    finally:
        store.clear(ex.plan)
        store.close()


def main() -> None:
    """Parse options and run the benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="batch rows (default 1M)")
    parser.add_argument("--history-days", type=int, default=40, help="days loaded before timing")
    parser.add_argument("--online-rows", type=int, default=40_000, help="timed rows (memory)")
    parser.add_argument("--redis-rows", type=int, default=5_000, help="timed Redis rows")
    parser.add_argument(
        "--redis-url", default=os.environ.get("FRAUDWATCH_TEST_REDIS", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--no-redis", action="store_true", help="skip the Redis benchmark")
    parser.add_argument("--no-batch", action="store_true", help="skip the batch benchmark")
    parser.add_argument("--cache", type=Path, default=Path("/tmp"), help="where data is cached")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--batch-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.batch_child:
        batch_child(args.batch_child)
        return
    report("calibration: 1M-step Python loop", calibration(), "s")
    report("load average (1 min)", os.getloadavg()[0], "")
    report("calibration: random read of 2M objects", memory_probe(), "ns")
    built = compiled_modules()
    # a stale build (source edited since) runs as Python: say so in the results themselves
    report(f"online path: compiled modules of {len(built)}", sum(built.values()), "")
    path = dataset(args.rows, args.cache)
    if not args.no_batch:
        bench_batch(path)
    bench_online(
        path,
        args.history_days,
        args.online_rows,
        None if args.no_redis else args.redis_url,
        args.redis_rows,
    )
    report("calibration again", calibration(), "s")
    if args.json:
        args.json.write_text(json.dumps(RESULTS, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
