"""Benchmark of the rules engine (not a test): run ``.venv/bin/python tests/rules/bench_rules.py``.

Measures, with the rules of examples/rules.yaml against random data:
the vectorised paths on 1M rows (conditions only, decisions, backtest), the CPU time of one
real-time decision, and the cost of a 1M-entry deny list.
"""

from __future__ import annotations

import gc
import statistics
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from fraudwatch.features import default_feature_set
from fraudwatch.rules import FieldType, backtest_rules, decide_frame, decide_one, load_rules
from fraudwatch.thresholds import Thresholds

ROOT = Path(__file__).resolve().parents[2]
N = 1_000_000
STRINGS = {
    "channel": ["pos", "ecom", "atm"],
    "country": ["GB", "FR", "NG", "DE"],
    "merchant_category": ["5411", "7995", "5812"],
}
IDS = ("card_id", "merchant_id", "ip_address", "device_id")
FLAGS = ("new_device_card", "new_country_card", "new_merchant_card", "is_night")


def _frame(fields: set[str], rng: np.random.Generator) -> pl.DataFrame:
    cols: dict[str, Any] = {}
    for name in sorted(fields):
        if name in STRINGS:
            cols[name] = rng.choice(STRINGS[name], N)
        elif name in IDS:
            cols[name] = np.char.add("x", rng.integers(0, 100_000, N).astype(str))
        elif name in FLAGS:
            cols[name] = rng.integers(0, 2, N).astype(float)
        else:
            values = rng.exponential(50, N)
            values[rng.random(N) < 0.05] = np.nan
            cols[name] = values
    df = pl.DataFrame(cols).with_columns(
        pl.Series("score", rng.random(N)),
        pl.Series("is_fraud", (rng.random(N) < 0.004).astype(np.int8)),
    )
    return df.with_columns(pl.col(pl.Float64).fill_nan(None))


def _timed(fn: Callable[[], object], repeat: int = 5) -> str:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return f"best {min(times):.3f} s, median {statistics.median(times):.3f} s"


def main() -> None:
    """Run every measurement and print one line each."""
    fs = default_feature_set()
    known: dict[str, FieldType] = {
        n: ("string" if n in fs.categorical else "number") for n in fs.names
    }
    example = ROOT / "examples" / "rules.yaml"
    rs = load_rules(example, known_fields=known)
    fields = {f for r in rs.checks for f in r.condition.fields} | {"amount"}
    df = _frame(fields, np.random.default_rng(0))
    th = Thresholds(review=0.9, decline=0.99)
    print(f"{N:,} rows, {len(rs.active)} enabled checks, {len(rs.checks)} in all")
    print("conditions only (hit_frame):", _timed(lambda: rs.hit_frame(df)))
    print("decide_frame:", _timed(lambda: decide_frame(df, th, rs)))
    print("backtest_rules:", _timed(lambda: backtest_rules(rs, df, th)))

    row = df.row(0, named=True)
    gc.collect()
    n = 50_000
    for label, fn in (
        ("decide_one", lambda: decide_one(row, 0.3, th, rs)),
        ("ruleset.fired", lambda: rs.fired(row)),
    ):
        start = time.process_time()
        timeit.timeit(fn, number=n)
        print(f"{label}: {(time.process_time() - start) / n * 1e6:.2f} us CPU per call")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "cards.txt").write_text("\n".join(f"x{i}" for i in range(0, 2 * N, 2)))
        text = example.read_text().replace('cards: ["c_00000000deadbeef"]', "cards: cards.txt")
        (folder / "rules.yaml").write_text(text)
        start = time.perf_counter()
        big = load_rules(folder / "rules.yaml", known_fields=known)
        print(f"load with a 1M-card deny list: {time.perf_counter() - start:.2f} s")
        print("decide_frame, 1M-card deny list:", _timed(lambda: decide_frame(df, th, big), 3))
        start = time.process_time()
        timeit.timeit(lambda: decide_one(row, 0.3, th, big), number=n)
        print(f"decide_one, 1M-card deny list: {(time.process_time() - start) / n * 1e6:.2f} us")


if __name__ == "__main__":
    main()
