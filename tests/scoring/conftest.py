"""A small real bundle trained once for the scoring tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from fraudwatch.registry import Bundle, load_bundle
from fraudwatch.simulate import SimulationConfig, simulate
from fraudwatch.training import train_bundle


@pytest.fixture(scope="session")
def sim_data() -> pl.DataFrame:
    """About three weeks of simulated traffic."""
    return simulate(SimulationConfig(customers=600, days=28, seed=11))


@pytest.fixture(scope="session")
def small_bundle(sim_data: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    """A LightGBM bundle trained on the first 18 days, saved and loaded back (verified)."""
    cut = (
        sim_data["timestamp"].min()
        + (sim_data["timestamp"].max() - sim_data["timestamp"].min()) * 0.75
    )  # type: ignore[operator]
    train = sim_data.filter(pl.col("timestamp") < cut)
    bundle = train_bundle(
        train,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        model_params={"n_estimators": 60},
        seed=3,
        num_threads=1,
    )
    out = Path(tmp_path_factory.mktemp("bundle")) / "b"
    bundle.save(out)
    return load_bundle(out)
