"""The training pipeline on simulated data: quality, determinism, adaptivity, profiles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudwatch.errors import DataValidationError, MissingColumnsError
from fraudwatch.evaluation import average_precision
from fraudwatch.features import Feature, FeatureSet, compute_batch
from fraudwatch.registry import load_bundle
from fraudwatch.training import data_fingerprint, train_bundle

CREATED = datetime(2026, 3, 1, 12, tzinfo=UTC)
FAST: dict[str, Any] = {"n_estimators": 80}


def _train(data: pl.DataFrame, **kwargs: Any) -> Any:
    kwargs.setdefault("model_params", FAST)
    return train_bundle(data, created_at=CREATED, num_threads=1, **kwargs)


@pytest.fixture(scope="module")
def bundle(first_four_weeks: pl.DataFrame) -> Any:
    """LightGBM trained on the first four weeks, default features."""
    return _train(first_four_weeks, seed=5)


def _later_ap(bundle: Any, train: pl.DataFrame, later: pl.DataFrame) -> float:
    features = compute_batch(bundle.feature_set, later, history=train)
    score, _ = bundle.score(features)
    ap = average_precision(later["is_fraud"].to_numpy(), score)
    assert ap is not None
    return ap


@pytest.mark.slow
def test_beats_amount_and_hour_baseline_on_later_window(
    bundle: Any, first_four_weeks: pl.DataFrame, last_two_weeks: pl.DataFrame
) -> None:
    """Check that the full model's AP on a later window beats LightGBM on amount and hour."""
    baseline_fs = FeatureSet((Feature("value", value="amount"), Feature("hour")))
    baseline = _train(first_four_weeks, seed=5, feature_set=baseline_fs)
    full_ap = _later_ap(bundle, first_four_weeks, last_two_weeks)
    base_ap = _later_ap(baseline, first_four_weeks, last_two_weeks)
    assert full_ap > base_ap + 0.1


@pytest.mark.slow
def test_training_is_deterministic(bundle: Any, first_four_weeks: pl.DataFrame) -> None:
    """Check that the same data and seed give byte-identical bundle files."""
    again = _train(first_four_weeks, seed=5)
    assert again.to_files() == bundle.to_files()


def test_manifest_records_training(bundle: Any, first_four_weeks: pl.DataFrame) -> None:
    """Check that the manifest records window, rows, frauds, fingerprint, split and metrics."""
    m = bundle.manifest
    t = m["training"]
    assert t["rows"] == first_four_weeks.height
    assert t["frauds"] == int(first_four_weeks["is_fraud"].sum())
    assert t["fingerprint"] == data_fingerprint(first_four_weeks)
    assert t["split"]["policy"] == "standard"
    assert t["label_delay_days"] == 7.0
    assert m["feature_set"]["hash"] == bundle.feature_set.hash
    assert 0.5 < m["metrics"]["roc_auc"] <= 1.0
    assert m["metrics"]["card_precision_at_100"] is not None
    assert m["thresholds"]["review"] <= m["thresholds"]["decline"]


def test_trained_bundle_round_trips(
    bundle: Any, last_two_weeks: pl.DataFrame, tmp_path: Path
) -> None:
    """Check that a trained bundle scores identically after save and load."""
    loaded = load_bundle(bundle.save(tmp_path / "b"), feature_set=bundle.feature_set)
    features = compute_batch(loaded.feature_set, last_two_weeks.head(500))
    for a, b in zip(loaded.score(features), bundle.score(features), strict=True):
        np.testing.assert_array_equal(a, b)


def test_short_span_adapts_refits_and_logs(
    sim: pl.DataFrame, training_log: pytest.LogCaptureFixture
) -> None:
    """Check that 10 days with a 7-day delay train via the adaptive split, logged."""
    short = sim.filter(pl.col("timestamp") < sim["timestamp"].min() + timedelta(days=10))
    b = _train(short, seed=1)
    assert b.training["split"]["policy"] == "adaptive"
    assert b.training["refit"] is True
    assert b.training["trained_rows"] == short.height
    assert "adaptive split" in training_log.text
    assert "refitting on all" in training_log.text


def test_ulb_profile_trains_on_passthrough(
    ulb_like: pl.DataFrame, training_log: pytest.LogCaptureFixture
) -> None:
    """Check that ULB-shaped data (no card) trains on V1..V28 plus amount/time features."""
    b = _train(ulb_like, profile="ulb", seed=2)
    names = set(b.feature_names)
    assert {f"V{i}" for i in range(1, 29)} <= names
    assert "amount" in names
    assert "hour_of_day" in names
    assert not any("card" in n for n in names)
    assert b.metrics["card_precision_at_100"] is None
    assert b.metrics["roc_auc"] > 0.8
    assert b.profile == "ulb"
    assert "left out" in training_log.text


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["xgboost", "logreg"])
def test_alternative_models_train(kind: str, first_four_weeks: pl.DataFrame) -> None:
    """Check that XGBoost and logistic regression train through the pipeline."""
    b = _train(first_four_weeks, model=kind, model_params={}, seed=1)
    assert b.model_type == kind
    assert b.metrics["roc_auc"] > 0.8


def test_history_only_warms_state(first_four_weeks: pl.DataFrame) -> None:
    """Check that history rows change the features but are not training rows."""
    cut = first_four_weeks["timestamp"].min() + timedelta(days=7)
    history = first_four_weeks.filter(pl.col("timestamp") < cut)
    data = first_four_weeks.filter(pl.col("timestamp") >= cut)
    with_history = _train(data, history=history, seed=1, model_params={"n_estimators": 10})
    assert with_history.training["rows"] == data.height
    assert with_history.training["history_rows"] == history.height
    f_with = compute_batch(with_history.feature_set, data.head(50), history=history)
    f_without = compute_batch(with_history.feature_set, data.head(50))
    assert not f_with["tx_count_card_7d"].equals(f_without["tx_count_card_7d"])


def test_unlabelled_rows_are_not_trained_on(first_four_weeks: pl.DataFrame) -> None:
    """Check that rows with an empty label are left out of training."""
    data = first_four_weeks.with_columns(
        is_fraud=pl.when(pl.int_range(pl.len()) % 10 == 0).then(None).otherwise(pl.col("is_fraud"))
    )
    b = _train(data, seed=1, model_params={"n_estimators": 10})
    assert b.training["labelled_rows"] == data.height - data["is_fraud"].null_count()


def test_missing_label_column_refused(first_four_weeks: pl.DataFrame) -> None:
    """Check that data without is_fraud is refused, saying labels are needed."""
    with pytest.raises(MissingColumnsError, match=r"is_fraud.*labelled transactions"):
        _train(first_four_weeks.drop("is_fraud"))


def test_no_fraud_refused(first_four_weeks: pl.DataFrame) -> None:
    """Check that data without any fraud is refused with a fix."""
    data = first_four_weeks.with_columns(is_fraud=pl.lit(0, dtype=pl.Int8))
    with pytest.raises(DataValidationError, match=r"no fraud.*longer period"):
        _train(data)


def test_validation_without_fraud_refused(first_four_weeks: pl.DataFrame) -> None:
    """Check that a validation part without frauds is refused, naming the split."""
    cut = first_four_weeks["timestamp"].max() - timedelta(days=6)
    data = first_four_weeks.with_columns(
        is_fraud=pl.when(pl.col("timestamp") > cut).then(0).otherwise(pl.col("is_fraud"))
    )
    with pytest.raises(DataValidationError, match="validation part of the time split"):
        _train(data)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 1000))
def test_fingerprint_ignores_row_order(seed: int, first_four_weeks: pl.DataFrame) -> None:
    """Check that shuffling rows keeps the fingerprint and changing a label changes it."""
    small = first_four_weeks.head(300)
    shuffled = small.sample(fraction=1.0, shuffle=True, seed=seed)
    assert data_fingerprint(shuffled) == data_fingerprint(small)
    flipped = small.with_columns(is_fraud=pl.int_range(pl.len()).eq(seed % 300).cast(pl.Int8))
    assert data_fingerprint(flipped) != data_fingerprint(small)
