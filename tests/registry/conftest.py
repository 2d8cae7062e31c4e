"""Small trained bundles for the registry tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from fraudwatch.models import AnomalyDetector, FeatureEncoder, make_model
from fraudwatch.registry import Bundle

FAST = {
    "lightgbm": {"n_estimators": 25, "num_leaves": 7, "min_child_samples": 10, "num_threads": 1},
    "xgboost": {"n_estimators": 25, "max_depth": 3, "num_threads": 1},
    "logreg": {},
}


def feature_frame(seed: int, n: int = 1500) -> pl.DataFrame:
    """Features of n transactions with a label: two numeric, one categorical."""
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(3, 1, n)
    hour = rng.integers(0, 24, n).astype(float)
    channel = rng.choice(["pos", "ecom", "atm"], n)
    logit = -4 + 1.1 * (np.log(amount) - 3) + 1.5 * (channel == "ecom")
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    return pl.DataFrame(
        {
            "transaction_id": [f"t{seed}-{i}" for i in range(n)],
            "amount": amount,
            "hour": hour,
            "channel": channel,
            "is_fraud": y,
        }
    )


BundleFactory = Callable[..., Bundle]


@pytest.fixture(scope="session")
def features() -> Callable[..., pl.DataFrame]:
    """The feature_frame builder."""
    return feature_frame


@pytest.fixture(scope="session")
def make_bundle() -> BundleFactory:
    """Build a bundle of a model type; same arguments give the same bundle."""
    cache: dict[tuple[str, int, bool], Bundle] = {}

    def factory(kind: str = "lightgbm", seed: int = 0, detector: bool = True) -> Bundle:
        key = (kind, seed, detector)
        if key not in cache:
            frame = feature_frame(seed)
            enc = FeatureEncoder(["amount", "hour", "channel"], ["channel"]).fit(frame)
            x = enc.transform(frame)
            y = frame["is_fraud"].to_numpy()
            model = make_model(kind, **FAST[kind]).fit(
                x, y, feature_names=enc.names, categorical=enc.categorical_indices
            )
            det = None
            if detector:
                det = AnomalyDetector(n_estimators=10).fit(
                    x, feature_names=enc.names, columns=enc.numeric_indices
                )
            cache[key] = Bundle.create(
                model=model,
                encoder=enc,
                detector=det,
                created_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=seed),
                thresholds={"review": 0.2, "decline": 0.8, "objective": "manual"},
                metrics={"average_precision": 0.5},
            )
        return cache[key]

    return factory
