"""Tests of the metric functions: ranking metrics and daily top-k metrics (CP@k)."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from eval_synthetic import reference_card_precision
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from fraudwatch.errors import ConfigError, DataValidationError, MissingColumnsError
from fraudwatch.evaluation import (
    average_precision,
    card_precision_at_k,
    card_precision_at_k_per_day,
    precision_at_k_per_day,
    recall_at_fpr,
    remove_known_compromised,
    roc_auc,
    roc_curve,
    undefined_reason,
)

D = datetime(2018, 8, 15, 12, tzinfo=UTC)  # a test day


def tx(rows: list[tuple[datetime, str, int, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "timestamp": [r[0] for r in rows],
            "card_id": [r[1] for r in rows],
            "is_fraud": [r[2] for r in rows],
            "score": [r[3] for r in rows],
        },
        schema_overrides={"timestamp": pl.Datetime("us", "UTC"), "is_fraud": pl.Int8},
    )


def hist(rows: list[tuple[datetime, str, int]]) -> pl.DataFrame:
    return tx([(t, c, y, 0.0) for t, c, y in rows]).drop("score")


@st.composite
def labelled_scores(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(2, 80))
    y = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    grid = draw(st.sampled_from([4, 20, 1000]))  # coarse grids give many ties
    s = np.array(draw(st.lists(st.integers(0, grid), min_size=n, max_size=n)), float) / grid
    return y, s


@st.composite
def card_days(
    draw: st.DrawFn,
) -> tuple[list[tuple[datetime, str, int, float]], list[tuple[datetime, str, int]], int, int]:
    """Random small test windows with history: few cards, few days, tied scores."""
    cards = [f"c{i}" for i in range(draw(st.integers(1, 8)))]
    start = datetime(2018, 8, 8, tzinfo=UTC)

    def when(max_days: int, before: bool) -> datetime:
        hours = draw(st.integers(0, max_days * 24 - 1))
        return start - timedelta(hours=hours + 1) if before else start + timedelta(hours=hours)

    n = draw(st.integers(1, 40))
    rows = [
        (
            when(5, False),
            draw(st.sampled_from(cards)),
            int(draw(st.booleans())),
            draw(st.integers(0, 5)) / 5,
        )
        for _ in range(n)
    ]
    m = draw(st.integers(0, 15))
    history = [
        (when(14, True), draw(st.sampled_from(cards)), int(draw(st.booleans()))) for _ in range(m)
    ]
    return rows, history, draw(st.integers(1, 4)), draw(st.integers(0, 3))


def test_doctests_pass() -> None:
    """Check that the examples in the metric modules run as documented."""
    from fraudwatch.evaluation import _ranking, _topk

    for module in (_ranking, _topk):
        assert doctest.testmod(module).failed == 0, module.__name__


@given(labelled_scores())
@settings(max_examples=100, deadline=None)
def test_roc_auc_and_average_precision_match_scikit_learn(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    """Check that ROC AUC and AP equal scikit-learn's on random data with ties."""
    y, s = data
    if y.all() or not y.any():
        assert roc_auc(y, s) is None
        return
    assert roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert average_precision(y, s) == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)


@given(labelled_scores(), st.floats(0.0, 1.0))
@settings(max_examples=100, deadline=None)
def test_recall_at_fpr_is_best_recall_within_fpr(
    data: tuple[np.ndarray, np.ndarray], max_fpr: float
) -> None:
    """Check that recall_at_fpr is the best recall of any threshold whose FPR is within bound."""
    y, s = data
    if y.all() or not y.any():
        return
    best = 0.0
    for t in np.append(np.unique(s), np.inf):
        flagged = s >= t
        if flagged[~y].mean() <= max_fpr + 1e-12:
            best = max(best, flagged[y].mean())
    assert recall_at_fpr(y, s, max_fpr) == pytest.approx(best)


def test_single_class_metrics_are_none_with_reason() -> None:
    """Check that a single class gives None and a stated reason, not NaN or an exception."""
    y, s = [0, 0, 0], [0.1, 0.5, 0.9]
    assert roc_auc(y, s) is None
    assert average_precision(y, s) is None
    assert recall_at_fpr(y, s) is None
    assert undefined_reason(y) == "no fraud in the data"
    assert undefined_reason([1, 1]) == "no legitimate transactions in the data"


def test_roc_curve_ends_at_one_one() -> None:
    """Check that the ROC curve starts at (0, 0) and ends at (1, 1)."""
    curve = roc_curve([0, 1, 0, 1], [0.2, 0.9, 0.4, 0.3])
    assert curve is not None
    assert (curve.x[0], curve.y[0], curve.x[-1], curve.y[-1]) == (0.0, 0.0, 1.0, 1.0)


def test_mismatched_lengths_are_rejected() -> None:
    """Check that labels and scores of different lengths are refused."""
    with pytest.raises(DataValidationError, match="one score per label"):
        roc_auc([0, 1, 1], [0.1, 0.2])


def test_max_fpr_out_of_range_is_rejected() -> None:
    """Check that a false-positive rate above 1 is refused naming the parameter."""
    with pytest.raises(ConfigError, match=r"max_fpr must be a number in \[0, 1\]"):
        recall_at_fpr([0, 1], [0.1, 0.2], max_fpr=5.0)


def test_card_precision_removes_card_known_before_the_delay() -> None:
    """Check CP@2 on 3 cards where one was compromised 14 days earlier: 1 of the 2 others."""
    frame = tx([(D, "a", 1, 0.9), (D, "b", 1, 0.8), (D, "c", 0, 0.1)])
    history = hist([(D - timedelta(days=14), "a", 1)])
    # a is known (fraud before D - 7 days) and removed; top 2 = b (fraud), c (legit)
    assert card_precision_at_k(frame, 2, history=history) == 0.5
    # without the history, a and b are the top 2 and both compromised
    assert card_precision_at_k(frame, 2) == 1.0


def test_fraud_inside_the_delay_is_not_yet_known() -> None:
    """Check that a fraud less than the delay before the day does not remove the card."""
    midnight = datetime(2018, 8, 15, tzinfo=UTC)
    frame = tx([(D, "a", 1, 0.9), (D, "b", 0, 0.8)])
    just_known = hist([(midnight - timedelta(days=7, microseconds=1), "a", 1)])
    not_yet = hist([(midnight - timedelta(days=7), "a", 1)])
    assert card_precision_at_k(frame, 1, history=just_known) == 0.0  # a removed, b legit
    assert card_precision_at_k(frame, 1, history=not_yet) == 1.0  # a still ranked first


def test_detected_cards_are_removed_on_later_days() -> None:
    """Check that a card detected in day 1's top k does not count again on day 2."""
    frame = tx(
        [
            (D, "a", 1, 0.9),
            (D, "b", 0, 0.1),
            (D + timedelta(days=1), "a", 1, 0.9),
            (D + timedelta(days=1), "b", 0, 0.5),
        ]
    )
    per_day = card_precision_at_k_per_day(frame, 1)
    assert per_day["card_precision"].to_list() == [1.0, 0.0]
    assert card_precision_at_k(frame, 1, remove_detected=False) == 1.0


def test_card_takes_its_highest_score_and_any_fraud() -> None:
    """Check that a card ranks by its highest score and counts if any transaction is fraud."""
    frame = tx([(D, "a", 1, 0.2), (D, "a", 0, 0.95), (D, "b", 1, 0.9)])
    per_day = card_precision_at_k_per_day(frame, 1)
    assert per_day["card_precision"].to_list() == [1.0]
    assert per_day["n_cards"].to_list() == [2]


def test_card_precision_divides_by_k_even_with_fewer_cards() -> None:
    """Check that one compromised card on a day gives 1/k, as in the handbook."""
    frame = tx([(D, "a", 1, 0.9)])
    assert card_precision_at_k(frame, 100) == 0.01


def test_card_precision_of_empty_frame_is_none() -> None:
    """Check that no test day gives None rather than NaN."""
    assert card_precision_at_k(tx([(D, "a", 1, 0.9)]).head(0), 10) is None


@given(card_days())
@settings(max_examples=100, deadline=None)
def test_card_precision_matches_loop_reference(
    case: tuple[list[tuple[datetime, str, int, float]], list[tuple[datetime, str, int]], int, int],
) -> None:
    """Check that CP@k per day equals the straightforward loop implementation."""
    rows, history, k, delay_days = case
    delay = timedelta(days=delay_days)
    expected = reference_card_precision(rows, history, k, delay)
    got = card_precision_at_k_per_day(
        tx(rows), k, delay=delay, history=hist(history) if history else None
    )
    assert dict(zip(got["day"].to_list(), got["card_precision"].to_list(), strict=True)) == (
        pytest.approx(expected)
    )


def test_remove_known_compromised_drops_only_known_cards() -> None:
    """Check that the handbook's test-set filter keeps unknown cards and drops known ones."""
    frame = tx([(D, "a", 0, 0.9), (D, "b", 1, 0.8), (D - timedelta(days=9), "b", 1, 0.5)])
    out = remove_known_compromised(frame)
    # b's fraud 9 days before D is known on D; b's earlier row itself is not removed
    assert sorted(zip(out["card_id"], out["timestamp"], strict=True)) == sorted(
        [("a", D), ("b", D - timedelta(days=9))]
    )


def test_card_precision_needs_card_id() -> None:
    """Check that CP@k without card_id names the missing column."""
    with pytest.raises(MissingColumnsError, match="card_id"):
        card_precision_at_k(tx([(D, "a", 1, 0.9)]).drop("card_id"))


def test_k_must_be_positive() -> None:
    """Check that k = 0 is refused with the allowed range."""
    with pytest.raises(ConfigError, match=r"k must be an integer in \[1, inf\]"):
        card_precision_at_k(tx([(D, "a", 1, 0.9)]), 0)


def test_negative_delay_is_rejected() -> None:
    """Check that a negative label delay is refused."""
    with pytest.raises(ConfigError, match="non-negative timedelta"):
        card_precision_at_k(tx([(D, "a", 1, 0.9)]), 1, delay=timedelta(days=-1))


@given(card_days())
@settings(max_examples=80, deadline=None)
def test_precision_at_k_per_day_matches_loop(
    case: tuple[list[tuple[datetime, str, int, float]], list[tuple[datetime, str, int]], int, int],
) -> None:
    """Check that transaction precision@k per day equals sorting each day by hand."""
    rows, _, k, _ = case
    got = precision_at_k_per_day(tx(rows), k)
    for day, precision in zip(got["day"], got["precision"], strict=True):
        todays = [(s, i, y) for i, (t, _, y, s) in enumerate(rows) if t.date() == day]
        top = sorted(todays, key=lambda r: (-r[0], r[1]))[:k]
        assert precision == pytest.approx(sum(y for _, _, y in top) / k)


def test_rows_without_card_are_ignored_by_card_precision() -> None:
    """Check that a transaction with no card id is not ranked as a card."""
    frame = tx([(D, "a", 0, 0.5), (D, "b", 1, 0.4)]).vstack(
        tx([(D, "x", 1, 0.99)]).with_columns(pl.lit(None, dtype=pl.String).alias("card_id"))
    )
    assert card_precision_at_k(frame, 1) == 0.0  # a (legit) ranks first once the null is out
