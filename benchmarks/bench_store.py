"""Latency of the store's hot path: record_decision, the retry path, find_decision, API keys.

``record_decisions`` (group commit) is timed per group of 32 and reported per decision.

Usage::

    .venv/bin/python benchmarks/bench_store.py                       # SQLite in a temp dir
    .venv/bin/python benchmarks/bench_store.py --sqlite-sync FULL    # fsync on every commit
    .venv/bin/python benchmarks/bench_store.py --pg postgresql://postgres@127.0.0.1:5432/test

With ``--pg`` the script creates a scratch database on that server, runs there and drops it.
Prints p50/p99/max in microseconds per operation, one line each.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fraudwatch.store import DecisionInput, Store, open_store


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e6

    return (
        f"p50 {pick(0.50):7.0f} µs  p99 {pick(0.99):7.0f} µs  max {ordered[-1] * 1e6:7.0f} µs  "
        f"mean {statistics.fmean(ordered) * 1e6:7.0f} µs  (n={len(ordered)})"
    )


def _time(n: int, op: Callable[[int], object]) -> list[float]:
    samples = []
    for i in range(n):
        start = time.perf_counter()
        op(i)
        samples.append(time.perf_counter() - start)
    return samples


@contextmanager
def _pg_database(admin_url: str) -> Iterator[str]:
    import psycopg

    plain = admin_url.replace("postgresql+psycopg://", "postgresql://")
    name = f"fw_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = plain.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(store: Store, n: int, label: str) -> None:
    """Time the operations on ``store`` and print one line per operation."""
    t0 = datetime(2024, 5, 1, tzinfo=UTC)

    def tx(i: int, prefix: str) -> dict[str, object]:
        return {
            "transaction_id": f"{prefix}{i}",
            "timestamp": t0 + timedelta(seconds=i),
            "card_id": f"card{i % 500}",
            "amount": 10.0 + i % 300,
            "merchant_id": f"m{i % 50}",
            "channel": "ecom",
            "country": "FR",
            "currency": "EUR",
        }

    reasons = [{"feature": "amount_sum_card_24h", "value": 812.0, "contribution": 0.31}]

    def allow(i: int) -> object:
        return store.record_decision(
            tx(i, "a"), score=0.02, decision="allow", model_version="v1", latency_ms=0.4
        )

    def review(i: int) -> object:
        return store.record_decision(
            tx(i, "r"),
            score=0.93,
            decision="review",
            model_version="v1",
            reasons=reasons,
            rules_fired=["high_amount"],
            latency_ms=0.4,
        )

    for i in range(200):  # warm the pool, the statement caches and psycopg's prepares
        store.record_decision(tx(i, "w"), score=0.1, decision="allow", model_version="v1")
    gc.collect()
    gc.freeze()
    print(f"[{label}] record_decision allow (new)    {_percentiles(_time(n, allow))}")
    print(f"[{label}] record_decision review (+case) {_percentiles(_time(n, review))}")
    print(f"[{label}] record_decision retry          {_percentiles(_time(n, allow))}")
    group = 32

    def batch(i: int) -> object:
        return store.record_decisions(
            [
                DecisionInput(
                    tx(i * group + j, "g"), score=0.1, decision="allow", model_version="v1"
                )
                for j in range(group)
            ]
        )

    per_item = [t / group for t in _time(max(1, n // group), batch)]
    print(f"[{label}] record_decisions, 32/commit, per item {_percentiles(per_item)}")
    print(
        f"[{label}] find_decision (hit)            "
        f"{_percentiles(_time(n, lambda i: store.find_decision(f'a{i}')))}"
    )
    _, key = store.create_api_key("bench", ["score"])
    print(
        f"[{label}] verify_api_key                 "
        f"{_percentiles(_time(n, lambda i: store.verify_api_key(key)))}"
    )
    gc.unfreeze()


def main() -> None:
    """Parse arguments and run the benchmark on SQLite or PostgreSQL."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=3000, help="operations per measurement")
    parser.add_argument("--pg", help="PostgreSQL admin URL: run on a scratch database there")
    parser.add_argument("--sqlite-sync", choices=["NORMAL", "FULL"], default="NORMAL")
    args = parser.parse_args()
    if args.pg:
        with _pg_database(args.pg) as url, open_store(url, upgrade=True) as store:
            run(store, args.n, "postgresql")
        return
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        with open_store(url, upgrade=True, sqlite_synchronous=args.sqlite_sync) as store:
            run(store, args.n, f"sqlite synchronous={args.sqlite_sync}")


if __name__ == "__main__":
    main()
