"""Synthetic scored validation frames for the threshold tests (seeded)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl

START = datetime(2024, 3, 1, tzinfo=UTC)


def make_scored(
    seed: int,
    n: int = 20_000,
    days: int = 14,
    fraud_rate: float = 0.01,
    separation: float = 2.0,
) -> pl.DataFrame:
    """Scored transactions: frauds score higher on average and have larger amounts."""
    rng = np.random.default_rng(seed)
    y = rng.random(n) < fraud_rate
    logit = rng.normal(-4.0, 1.0, n) + separation * y
    score = 1.0 / (1.0 + np.exp(-logit))
    amount = np.round(rng.lognormal(3.5, 1.0, n) * np.where(y, 3.0, 1.0), 2)
    offsets = np.sort(rng.integers(0, days * 86_400, n)) * 1_000_000
    start_us = int(START.timestamp() * 1_000_000)
    timestamp = (
        pl.Series("timestamp", start_us + offsets, dtype=pl.Int64)
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC")
    )
    return pl.DataFrame(
        {"timestamp": timestamp, "amount": amount, "is_fraud": y.astype(np.int8), "score": score}
    )
