"""Tests that the simulated fraud is learnable from behaviour, beyond amount and hour."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from sim_geo import with_previous_card_present
from sklearn.metrics import average_precision_score

from fraudwatch.simulate import SimulationConfig, simulate

lgb = pytest.importorskip("lightgbm")

BASELINE = ["amount", "hour"]
BEHAVIOUR = [*BASELINE, "payments_1h", "merchants_1h", "new_device", "speed_kmh", "amount_ratio"]


def _features(df: pl.DataFrame) -> pl.DataFrame:
    """Simple point-in-time card features, computed here independently of fraudwatch.features."""
    df = df.with_row_index("row").with_columns(hour=pl.col("timestamp").dt.hour())
    velocity = (
        df.sort("timestamp")
        .rolling("timestamp", period="1h", group_by="card_id")
        .agg(
            pl.len().alias("payments_1h"),
            pl.col("merchant_id").n_unique().alias("merchants_1h"),
            pl.col("row").last(),
        )
        .select("row", "payments_1h", "merchants_1h")
    )
    history = df.sort("timestamp").with_columns(
        new_device=(
            pl.col("device_id").is_not_null()
            & (pl.col("timestamp") == pl.col("timestamp").min().over("card_id", "device_id"))
        ).cast(pl.Int8),
        amount_ratio=pl.col("amount")
        / ((pl.col("amount").cum_sum() - pl.col("amount")) / pl.int_range(pl.len()))
        .over("card_id")
        .fill_nan(None),
    )
    speed = with_previous_card_present(df).select("row", "speed_kmh")
    return (
        history.join(velocity, on="row")
        .join(speed, on="row", how="left")
        .with_columns(day=(pl.col("timestamp") - pl.col("timestamp").min()).dt.total_days())
    )


def _average_precision(train: pl.DataFrame, test: pl.DataFrame, cols: list[str]) -> float:
    model = lgb.LGBMClassifier(
        n_estimators=150, learning_rate=0.05, num_leaves=15, n_jobs=1, verbose=-1, random_state=0
    )
    model.fit(train.select(cols).to_numpy().astype(float), train["is_fraud"].to_numpy())
    scores = model.predict_proba(test.select(cols).to_numpy().astype(float))[:, 1]
    return float(average_precision_score(test["is_fraud"].to_numpy(), scores))


@pytest.mark.slow
def test_behaviour_beats_amount_and_hour() -> None:
    """Check that card-behaviour features lift average precision well above amount + hour."""
    df = simulate(SimulationConfig(customers=3000, days=40, seed=17, fraud_rate=0.01))
    feats = _features(df)
    train = feats.filter(pl.col("day") < 25)
    test = feats.filter(pl.col("day") >= 28)  # a gap, as a label delay would impose
    assert int(test["is_fraud"].sum()) >= 200
    base = _average_precision(train, test, BASELINE)
    full = _average_precision(train, test, BEHAVIOUR)
    prevalence = float(np.mean(test["is_fraud"].to_numpy()))
    assert base > 3 * prevalence  # amount and hour are informative ...
    assert full > base + 0.2  # ... but behaviour carries much more signal
