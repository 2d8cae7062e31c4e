"""Simulated labelled transactions for the training tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from fraudwatch.simulate import SimulationConfig, simulate


@pytest.fixture(scope="session")
def sim() -> pl.DataFrame:
    """42 days of simulated transactions with a 2 % fraud rate (about 27k rows)."""
    return simulate(SimulationConfig(customers=400, days=42, seed=3, fraud_rate=0.02))


@pytest.fixture(scope="session")
def first_four_weeks(sim: pl.DataFrame) -> pl.DataFrame:
    """The first 28 days of ``sim``."""
    cut = sim["timestamp"].min() + timedelta(days=28)
    return sim.filter(pl.col("timestamp") < cut)


@pytest.fixture(scope="session")
def last_two_weeks(sim: pl.DataFrame) -> pl.DataFrame:
    """The last 14 days of ``sim``: a later window for out-of-time tests."""
    cut = sim["timestamp"].min() + timedelta(days=28)
    return sim.filter(pl.col("timestamp") >= cut)


@pytest.fixture(scope="session")
def ulb_like() -> pl.DataFrame:
    """A ULB-shaped frame: row-number ids, time, amount, label and V1..V28, no card column."""
    rng = np.random.default_rng(11)
    n = 6000
    seconds = np.sort(rng.uniform(0, 20 * 86400, n))
    v = rng.normal(size=(n, 28))
    logit = -4.5 + 1.8 * v[:, 0] - 1.2 * v[:, 3] + 0.8 * v[:, 10]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    start = pl.datetime(2013, 9, 1, time_zone="UTC")
    frame = pl.DataFrame(
        {
            "transaction_id": [str(i) for i in range(n)],
            "seconds": seconds,
            "amount": np.round(rng.lognormal(3, 1.2, n), 2),
            "is_fraud": y,
            **{f"V{i + 1}": v[:, i] for i in range(28)},
        }
    )
    return frame.select(
        "transaction_id",
        (start + pl.duration(microseconds=(pl.col("seconds") * 1e6).cast(pl.Int64))).alias(
            "timestamp"
        ),
        pl.exclude("transaction_id", "seconds"),
    )


@pytest.fixture
def training_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog attached to ``fraudwatch.training`` directly.

    The CLI's logging set-up stops propagation from the ``fraudwatch`` logger, so a plain
    caplog would miss records once any CLI test ran in the same process.
    """
    logger = logging.getLogger("fraudwatch.training")
    old_level = logger.level
    logger.addHandler(caplog.handler)
    logger.setLevel(logging.INFO)
    try:
        yield caplog
    finally:
        logger.removeHandler(caplog.handler)
        logger.setLevel(old_level)
