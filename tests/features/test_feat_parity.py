"""Parity: the online executor (memory and Redis) equals the batch executor on every feature."""

from __future__ import annotations

import polars as pl
import pytest
from feat_streams import StoreFactory, mismatches, random_stream, streams
from hypothesis import HealthCheck, given, settings

from fraudwatch.features import FeatureSet, OnlineExecutor, compute_batch, default_feature_set

HANDBOOK_SHAPE = [
    "transaction_id",
    "timestamp",
    "card_id",
    "amount",
    "customer_id",
    "merchant_id",
    "terminal_id",
    "is_fraud",
]


def _assert_parity(fs: FeatureSet, data: pl.DataFrame, ex: OnlineExecutor) -> None:
    batch = compute_batch(fs, data)
    online = ex.replay(data)
    problems = mismatches(fs, batch, online)
    assert problems == [], f"{len(problems)} mismatches, first: {problems[:5]}"


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=streams())
def test_small_random_streams_agree(make_store: StoreFactory, data: pl.DataFrame) -> None:
    """Check online == batch on small streams with ties, gaps, edge windows and extreme values."""
    fs = default_feature_set()
    _assert_parity(fs, data, OnlineExecutor(fs, make_store()))


def test_unsorted_labelled_stream_agrees(make_store: StoreFactory) -> None:
    """Check online == batch on 2,000 unsorted rows with ties, missing values and labels."""
    fs = default_feature_set()
    data = random_stream(21, 2000, unsorted=True)
    _assert_parity(fs, data, OnlineExecutor(fs, make_store()))


def test_handbook_shaped_data_agrees(make_store: StoreFactory) -> None:
    """Check parity on the handbook's columns (card and terminal only) via available_for."""
    data = random_stream(8, 1500).select(HANDBOOK_SHAPE)
    fs, dropped = default_feature_set().available_for(data.columns)
    assert "new_device_card" in dict(dropped)
    _assert_parity(fs, data, OnlineExecutor(fs, make_store()))


@pytest.mark.slow
def test_100k_simulated_transactions_agree(
    make_store: StoreFactory, simulated_100k: pl.DataFrame
) -> None:
    """Check online == batch on every feature of >= 100,000 simulated, labelled transactions."""
    assert simulated_100k.height >= 100_000
    fs = default_feature_set()
    _assert_parity(fs, simulated_100k, OnlineExecutor(fs, make_store()))


@pytest.fixture(scope="module")
def simulated_100k() -> pl.DataFrame:
    """100,000+ transactions from the simulator (labels arrive after the 7-day delay)."""
    from fraudwatch.simulate import SimulationConfig, simulate

    return simulate(SimulationConfig(customers=2100, days=31, seed=2024))


def test_feedback_labels_agree(make_store: StoreFactory) -> None:
    """Check parity when fraud labels arrive through add_label (known after the delay)."""
    fs = default_feature_set()
    data = random_stream(31, 1200, fraud=0.2).sort("timestamp", maintain_order=True)
    ex = OnlineExecutor(fs, make_store())
    delay = fs.label_delay
    assert delay is not None
    results = []
    for row in data.to_dicts():
        label = row.pop("is_fraud")
        results.append({"transaction_id": row["transaction_id"], **ex.compute_and_update(row)})
        if label == 1:
            assert ex.add_label(row["transaction_id"], 1, row["timestamp"] + delay)
    schema = {"transaction_id": pl.String, **{n: pl.Float64 for n in fs.names}}
    schema.update({n: pl.String for n in fs.categorical})
    online = pl.DataFrame(results, schema=schema, orient="row")
    problems = mismatches(fs, compute_batch(fs, data), online)
    assert problems == [], problems[:5]
