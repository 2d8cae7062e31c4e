"""Tests of the prequential folds and the backtest with a simple model."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from eval_synthetic import make_scored
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudwatch.errors import ConfigError
from fraudwatch.evaluation import (
    Fold,
    FoldModel,
    backtest,
    folds_for_data,
    handbook_folds,
    prequential_folds,
    remove_known_compromised,
)
from fraudwatch.thresholds import Thresholds

HANDBOOK = Path(__file__).resolve().parents[3] / "shared" / "data" / "handbook-raw.parquet"


@pytest.fixture(scope="module")
def data() -> pl.DataFrame:
    """Six weeks of scored-looking transactions (the score column is dropped: models score)."""
    return make_scored(seed=33, n=12_000, days=42, n_cards=600).drop("score")


def amount_model(rows: pl.DataFrame, fold: Fold) -> FoldModel:
    """A tiny model: the fraud rate of the training rows above each amount decile."""
    amounts = rows["amount"].to_numpy()
    y = rows["is_fraud"].to_numpy()
    edges = np.quantile(amounts, np.linspace(0, 1, 11)[1:-1])
    rate = np.array([y[np.searchsorted(edges, amounts) == i].mean() for i in range(10)])

    def score(test: pl.DataFrame) -> np.ndarray:
        return np.asarray(rate[np.searchsorted(edges, test["amount"].to_numpy())])

    return FoldModel(score=score)


@given(
    st.dates(date(2020, 1, 1), date(2030, 1, 1)),
    st.integers(1, 6),
    st.integers(1, 30),
    st.integers(0, 14),
    st.integers(1, 14),
    st.one_of(st.none(), st.integers(1, 14)),
)
@settings(max_examples=80, deadline=None)
def test_folds_are_contiguous_and_move_back(
    anchor: date, n: int, train: int, delay: int, test: int, step: int | None
) -> None:
    """Check that each fold is train, delay, test back to back, moving back by the step."""
    folds = prequential_folds(anchor, n, train, delay, test, step)
    assert [f.index for f in folds] == list(range(n))
    assert folds[0].train.start == anchor
    for fold in folds:
        assert (fold.train.days, fold.delay.days, fold.test.days) == (train, delay, test)
        assert fold.train.end == fold.delay.start
        assert fold.delay.end == fold.test.start
    for newer, older in itertools.pairwise(folds):
        assert (newer.test.start - older.test.start).days == (step or test)


def test_handbook_test_folds_match_protocol_b() -> None:
    """Check the handbook's protocol B: training weeks from 07-25 to 08-15, tests 08-08..09-04."""
    folds = handbook_folds("test")
    assert sorted(f.train.start for f in folds) == [
        date(2018, 7, 25),
        date(2018, 8, 1),
        date(2018, 8, 8),
        date(2018, 8, 15),
    ]
    assert min(f.test.start for f in folds) == date(2018, 8, 8)
    assert max(f.test.end for f in folds) == date(2018, 9, 5)  # exclusive: last day 09-04


def test_handbook_validation_folds_never_see_test_weeks() -> None:
    """Check that validation folds train from 06-20..07-11 and end before any test week."""
    folds = handbook_folds("validation")
    assert sorted(f.train.start for f in folds) == [
        date(2018, 6, 20),
        date(2018, 6, 27),
        date(2018, 7, 4),
        date(2018, 7, 11),
    ]
    assert max(f.test.end for f in folds) <= min(f.test.start for f in handbook_folds("test"))


def test_anchor_at_test_end() -> None:
    """Check that anchor_is='test_end' makes fold 0's test window end at the anchor."""
    folds = prequential_folds(date(2024, 2, 1), 2, anchor_is="test_end")
    assert folds[0].test.end == date(2024, 2, 1)


def test_folds_for_data_end_with_the_data(data: pl.DataFrame) -> None:
    """Check that the most recent fold's test window ends with the last day of the data."""
    last = max(data["timestamp"].dt.date().to_list())
    folds = folds_for_data(data, 3)
    assert folds[0].test.end == last + timedelta(days=1)


def test_folds_for_short_data_are_refused(data: pl.DataFrame) -> None:
    """Check that folds reaching before the data are refused with the days needed."""
    with pytest.raises(ConfigError, match=r"covers 42 days .* need 84; use fewer --folds"):
        folds_for_data(data, 10)


def test_bad_fold_parameter_is_rejected() -> None:
    """Check that zero training days is refused naming the parameter."""
    with pytest.raises(ConfigError, match=r"train_days must be an integer in \[1, inf\]"):
        prequential_folds(date(2024, 1, 1), train_days=0)


def test_backtest_trains_on_train_window_and_tests_later(data: pl.DataFrame) -> None:
    """Check that training sees only its window and scoring only the fold's test window."""
    seen: list[tuple[Fold, pl.DataFrame, pl.DataFrame]] = []

    def train(rows: pl.DataFrame, fold: Fold) -> FoldModel:
        model = amount_model(rows, fold)

        def score(test: pl.DataFrame) -> np.ndarray:
            seen.append((fold, rows, test))
            return np.asarray(model.score(test))

        return FoldModel(score=score)

    folds = folds_for_data(data, 3)
    backtest(data, folds, train, k=20)
    assert len(seen) == 3
    for fold, rows, test in seen:
        train_days = rows["timestamp"].dt.date().to_list()
        test_days = test["timestamp"].dt.date().to_list()
        assert fold.train.start <= min(train_days) <= max(train_days) < fold.train.end
        assert fold.test.start <= min(test_days) <= max(test_days) < fold.test.end


def test_backtest_drops_known_compromised_cards(data: pl.DataFrame) -> None:
    """Check that each fold's test set excludes cards known compromised from its history."""
    tested: dict[int, pl.DataFrame] = {}

    def train(rows: pl.DataFrame, fold: Fold) -> FoldModel:
        def score(test: pl.DataFrame) -> np.ndarray:
            tested[fold.index] = test
            return np.zeros(test.height)

        return FoldModel(score=score)

    folds = folds_for_data(data, 2)
    backtest(data, folds, train)
    for fold in folds:
        full = fold.test.select(data)
        expected = remove_known_compromised(
            full, delay=timedelta(days=fold.delay.days), history=fold.history.select(data)
        )
        assert tested[fold.index].height == expected.height < full.height


def test_backtest_summary_is_mean_and_population_std(data: pl.DataFrame) -> None:
    """Check that the summary is the mean and ddof=0 std of the per-fold metrics."""
    result = backtest(data, folds_for_data(data, 3), amount_model, k=20)
    aucs = np.array([f.report.metrics["roc_auc"] for f in result.folds], dtype=float)
    assert result.mean("roc_auc") == pytest.approx(aucs.mean())
    assert result.std("roc_auc") == pytest.approx(aucs.std(ddof=0))
    assert result.to_json()  # strict JSON


def test_backtest_better_model_wins(data: pl.DataFrame) -> None:
    """Check that a model that sees the label beats random scores on mean AP over folds."""
    rng = np.random.default_rng(0)

    def oracle(rows: pl.DataFrame, fold: Fold) -> FoldModel:
        return FoldModel(
            score=lambda t: t["is_fraud"].to_numpy() + rng.random(t.height) * 0.5,
        )

    def noise(rows: pl.DataFrame, fold: Fold) -> FoldModel:
        return FoldModel(score=lambda t: rng.random(t.height))

    folds = folds_for_data(data, 2)
    good = backtest(data, folds, oracle).mean("average_precision")
    bad = backtest(data, folds, noise).mean("average_precision")
    assert good is not None
    assert bad is not None
    assert good > bad


def test_backtest_uses_fold_thresholds(data: pl.DataFrame) -> None:
    """Check that thresholds returned by the training function are the ones evaluated."""
    t = Thresholds(review=0.01, decline=0.5)

    def train(rows: pl.DataFrame, fold: Fold) -> FoldModel:
        return FoldModel(score=amount_model(rows, fold).score, thresholds=t)

    result = backtest(data, folds_for_data(data, 1), train)
    assert result.folds[0].report.thresholds == t


def test_backtest_wrong_score_count_is_rejected(data: pl.DataFrame) -> None:
    """Check that a model returning too few scores is refused naming the fold."""
    with pytest.raises(ConfigError, match=r"fold 0: .* must score every row"):
        backtest(data, folds_for_data(data, 1), lambda rows, fold: lambda t: np.zeros(3))


def test_backtest_empty_window_is_rejected(data: pl.DataFrame) -> None:
    """Check that a fold outside the data is refused naming the empty window."""
    folds = prequential_folds(date(2030, 1, 1), 1)
    with pytest.raises(ConfigError, match="training window has no transactions"):
        backtest(data, folds, amount_model)


@pytest.mark.skipif(not HANDBOOK.exists(), reason="the handbook dataset is not available")
def test_handbook_protocol_a_test_set_size() -> None:
    """Check that known-card removal rebuilds the handbook's test set: 58,264 rows, 385 frauds."""
    raw = pl.read_parquet(HANDBOOK, columns=["TX_DATETIME", "CUSTOMER_ID", "TX_FRAUD"])
    frame = raw.select(
        timestamp=pl.col("TX_DATETIME").cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
        card_id=pl.col("CUSTOMER_ID").cast(pl.String),
        is_fraud=pl.col("TX_FRAUD").cast(pl.Int8),
    )
    ts = pl.col("timestamp")
    day = datetime(2018, 7, 25, tzinfo=UTC)
    history = frame.filter((ts >= day) & (ts < day + timedelta(days=14)))
    test = frame.filter((ts >= day + timedelta(days=14)) & (ts < day + timedelta(days=21)))
    kept = remove_known_compromised(test, history=history)
    assert (kept.height, int(kept["is_fraud"].sum())) == (58_264, 385)
