"""What the Redis state store's script costs on the server, per transaction.

Run: ``.venv/bin/python benchmarks/bench_redis_script.py`` (``--help`` for options). Replays
simulated transactions through :class:`~fraudwatch.features.RedisStateStore` (a warm-up, then
the measured ones) and prints, from the server's own ``INFO commandstats``, the time of one
``EVALSHA`` and the commands the script ran per transaction. It resets the server's command
statistics (``CONFIG RESETSTAT``): run it on a Redis nobody else is measuring.
"""

from __future__ import annotations

import argparse
import os
import uuid
from pathlib import Path

import polars as pl
import redis

from bench_features import dataset
from fraudwatch.features import OnlineExecutor, RedisStateStore, default_feature_set
from machine import calibration


def main() -> None:
    """Replay, then print the server's per-command figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--redis-url", default=os.environ.get("FRAUDWATCH_TEST_REDIS", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--warm", type=int, default=4_000, help="transactions before measuring")
    parser.add_argument("--rows", type=int, default=4_000, help="measured transactions")
    parser.add_argument("--cache", type=Path, default=Path("/tmp"), help="where data is cached")
    args = parser.parse_args()
    print(f"calibration: {calibration():.3f} s, load average {os.getloadavg()[0]:.2f}")
    frame = pl.read_parquet(dataset(1_000_000, args.cache)).sort("timestamp", maintain_order=True)
    rows = frame.drop("is_fraud", "fraud_scenario").slice(300_000, args.warm + args.rows)
    txs = rows.to_dicts()
    store = RedisStateStore(args.redis_url, prefix=f"fwbench:{uuid.uuid4().hex[:8]}:")
    ex = OnlineExecutor(default_feature_set(), store)
    server = redis.Redis.from_url(args.redis_url)
    try:
        for tx in txs[: args.warm]:
            ex.compute_and_update(tx)
        server.config_resetstat()
        for tx in txs[args.warm :]:
            ex.compute_and_update(tx)
        stats = server.info("commandstats")
    finally:
        store.clear(ex.plan)
        store.close()
    n = len(txs) - args.warm
    rows_out = sorted(
        ((name.removeprefix("cmdstat_"), v) for name, v in stats.items()),
        key=lambda item: -item[1]["usec"],
    )
    print(f"{'command':<18}{'calls/tx':>10}{'µs/call':>10}")
    for name, v in rows_out:
        if name.startswith(("config", "info", "hello", "client")):
            continue
        print(f"{name:<18}{v['calls'] / n:>10.2f}{v['usec_per_call']:>10.2f}")


if __name__ == "__main__":
    main()
