"""Tests of the cost model, the score curve, the default rule and the tuning objectives."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from thr_synthetic import make_scored

from fraudwatch.errors import ConfigError, DataValidationError, MissingColumnsError
from fraudwatch.thresholds import (
    CostModel,
    build_curve,
    default_thresholds,
    expected_outcomes,
    tune_thresholds,
)

Scored = Callable[..., pl.DataFrame]


@st.composite
def small_data(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Small score/label/amount arrays with many ties (scores on a coarse grid)."""
    n = draw(st.integers(1, 40))
    scores = np.array(draw(st.lists(st.integers(0, 8), min_size=n, max_size=n)), float) / 8
    labels = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    amounts = np.array(draw(st.lists(st.integers(0, 500), min_size=n, max_size=n)), float)
    return scores, labels, amounts


def frame_of(s: np.ndarray, y: np.ndarray, a: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame({"score": s, "is_fraud": y.astype(np.int8), "amount": a})


def loop_cost(s: np.ndarray, y: np.ndarray, a: np.ndarray, r: float, d: float) -> float:
    """Reference: the cost model applied one transaction at a time."""
    total = 0.0
    for score, fraud, amount in zip(s, y, a, strict=True):
        if score >= d:
            total += 0.0 if fraud else 20.0
        elif score >= r:
            total += 5.0
        elif fraud:
            total += amount
    return total


def per_day_reviews(frame: pl.DataFrame, review: float, decline: float) -> pl.DataFrame:
    return (
        frame.filter((pl.col("score") >= review) & (pl.col("score") < decline))
        .group_by(pl.col("timestamp").dt.date())
        .len()
    )


@given(small_data(), st.floats(0, 1), st.floats(0, 1))
@settings(max_examples=80, deadline=None)
def test_cost_model_matches_row_by_row_reference(
    data: tuple[np.ndarray, np.ndarray, np.ndarray], a: float, b: float
) -> None:
    """Check that CostModel.total equals the cost summed one transaction at a time."""
    s, y, amt = data
    r, d = min(a, b), max(a, b)
    got = CostModel(5.0, 20.0).total(s, y, amt, r, d)
    assert got == pytest.approx(loop_cost(s, y, amt, r, d))


@given(small_data())
@settings(max_examples=80, deadline=None)
def test_curve_counts_match_brute_force(data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """Check that the curve's counts at each candidate equal direct counting."""
    s, y, amt = data
    curve = build_curve(s, y, amt)
    assert curve.n_ge[-1] == 0  # the sentinel flags nobody
    assert curve.thresholds[-1] > s.max()
    for t, n_ge, f_ge, a_ge in zip(
        curve.thresholds, curve.n_ge, curve.fraud_ge, curve.amount_ge, strict=True
    ):
        flagged = s >= t
        assert n_ge == flagged.sum()
        assert f_ge == (flagged & y).sum()
        assert a_ge == pytest.approx(amt[flagged & y].sum())


@given(small_data())
@settings(max_examples=80, deadline=None)
def test_cost_tuning_finds_the_brute_force_minimum(
    data: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """Check that cost tuning reaches the minimum over every pair of candidate thresholds."""
    s, y, amt = data
    candidates = np.append(np.unique(s), s.max() + 1.0)
    best = min(loop_cost(s, y, amt, r, d) for r in candidates for d in candidates if r <= d)
    t = tune_thresholds(frame_of(s, y, amt), "cost")
    assert loop_cost(s, y, amt, t.review, t.decline) == pytest.approx(best)
    assert t.expected["cost"] == pytest.approx(best)


def test_tuned_cost_beats_default_thresholds(scored: Scored) -> None:
    """Check that cost-tuned thresholds cost less than the untuned default on the same data."""
    frame = scored(seed=7)
    s = frame["score"].to_numpy()
    y = frame["is_fraud"].to_numpy().astype(bool)
    amt = frame["amount"].to_numpy()
    default = default_thresholds(frame)
    tuned = tune_thresholds(frame, "cost")
    default_cost = loop_cost(s, y, amt, default.review, default.decline)
    tuned_cost = loop_cost(s, y, amt, tuned.review, tuned.decline)
    assert tuned_cost < default_cost
    assert tuned.expected["cost"] == pytest.approx(tuned_cost)
    assert default.expected["cost"] == pytest.approx(default_cost)


def test_tuned_cost_also_beats_default_on_held_out_data(scored: Scored) -> None:
    """Check that thresholds tuned on one period still cost less than defaults on the next."""
    train, test = scored(seed=11), scored(seed=12)
    tuned = tune_thresholds(train, "cost")
    default = default_thresholds(train)
    cm = CostModel()
    s, y, a = test["score"].to_numpy(), test["is_fraud"].to_numpy(), test["amount"].to_numpy()
    assert cm.total(s, y, a, tuned.review, tuned.decline) < cm.total(
        s, y, a, default.review, default.decline
    )


def test_higher_review_cost_means_fewer_reviews(scored: Scored) -> None:
    """Check that making reviews dearer never increases the number of reviews chosen."""
    frame = scored(seed=3)
    cheap = tune_thresholds(frame, "cost", review_cost=1.0)
    dear = tune_thresholds(frame, "cost", review_cost=50.0)
    assert dear.expected["review_share"] <= cheap.expected["review_share"]  # type: ignore[operator]


def precision_by_threshold(s: np.ndarray, y: np.ndarray) -> dict[float, float]:
    """Reference: precision of ``score >= t`` for every distinct score t, by sorting."""
    order = np.argsort(-s, kind="stable")
    ss, yy = s[order], y[order]
    tp = np.cumsum(yy)
    out: dict[float, float] = {}
    for i in range(ss.size):
        if i == ss.size - 1 or ss[i + 1] != ss[i]:  # last row of a tie group
            out[float(ss[i])] = float(tp[i] / (i + 1))
    return out


@given(st.integers(0, 10_000), st.floats(0.3, 0.99), st.floats(0.01, 1.0))
@settings(max_examples=25, deadline=None)
def test_precision_targets_are_met_with_lowest_thresholds(
    seed: int, target: float, review_share: float
) -> None:
    """Check that the precision objective meets both targets and no lower threshold would."""
    frame = make_scored(seed, n=800, days=5, fraud_rate=0.05, separation=3.0)
    review_target = target * review_share
    t = tune_thresholds(frame, "precision", target_precision=target, review_precision=review_target)
    s = frame["score"].to_numpy()
    y = frame["is_fraud"].to_numpy().astype(bool)
    prec = precision_by_threshold(s, y)
    assert t.review <= t.decline
    for threshold, goal in ((t.decline, target), (t.review, review_target)):
        if threshold in prec:  # otherwise nobody is flagged: no threshold reached the goal
            assert prec[threshold] >= goal
        lower = [p for c, p in prec.items() if c < threshold]
        if threshold == t.decline or t.review < t.decline:
            assert all(p < goal for p in lower)


def test_alert_budget_caps_reviews_on_busiest_day(scored: Scored) -> None:
    """Check that alert-budget keeps every day's reviews within the cap, and uses the budget."""
    frame = scored(seed=5)
    t = tune_thresholds(frame, "alert-budget", max_reviews_per_day=40)
    counts = per_day_reviews(frame, t.review, t.decline)
    assert counts["len"].to_numpy().max() <= 40
    # one more distinct score below review would break the cap on some day
    s = frame["score"].to_numpy()
    lower = s[s < t.review]
    assert lower.size > 0
    bigger = per_day_reviews(frame, float(lower.max()), t.decline)
    assert bigger["len"].to_numpy().max() > 40


def test_alert_budget_mean_statistic_allows_busier_days(scored: Scored) -> None:
    """Check that the 'mean' budget caps the average and is looser than the busiest-day cap."""
    frame = scored(seed=5)
    by_max = tune_thresholds(frame, "alert-budget", max_reviews_per_day=40)
    by_mean = tune_thresholds(
        frame, "alert-budget", max_reviews_per_day=40, budget_statistic="mean"
    )
    assert by_mean.expected["reviews_per_day"] <= 40  # type: ignore[operator]
    assert by_mean.review <= by_max.review


def test_f1_review_threshold_maximises_f1(scored: Scored) -> None:
    """Check that no candidate threshold has a higher F1 than the f1 objective's review."""
    frame = scored(seed=9, n=4000, fraud_rate=0.05)
    t = tune_thresholds(frame, "f1", decline_precision=1.0)
    s = frame["score"].to_numpy()
    y = frame["is_fraud"].to_numpy().astype(bool)

    def f1(th: float) -> float:
        flagged = s >= th
        tp = (flagged & y).sum()
        return float(2 * tp / (flagged.sum() + y.sum()))

    best = max(f1(c) for c in np.unique(s))
    assert t.review < t.decline
    assert f1(t.review) == pytest.approx(best)


@given(
    st.integers(0, 10_000),
    st.sampled_from(["cost", "f1", "precision", "alert-budget"]),
    st.floats(0.0, 0.2),
)
@settings(max_examples=40, deadline=None)
def test_review_never_exceeds_decline(seed: int, objective: str, fraud_rate: float) -> None:
    """Check that every objective returns review <= decline, whatever the data."""
    frame = make_scored(seed, n=500, days=3, fraud_rate=fraud_rate, separation=1.0)
    t = tune_thresholds(frame, objective)
    assert t.review <= t.decline
    assert t.objective == objective


@given(st.lists(st.floats(-5, 5), min_size=1, max_size=300), st.floats(0, 1), st.floats(0, 1))
@settings(max_examples=80, deadline=None)
def test_default_rule_respects_rates(scores: list[float], a: float, b: float) -> None:
    """Check that default thresholds flag at most review_rate and decline at most decline_rate."""
    review_rate, decline_rate = max(a, b), min(a, b)
    s = np.array(scores)
    t = default_thresholds(s, review_rate=review_rate, decline_rate=decline_rate)
    assert (s >= t.review).mean() <= review_rate + 1e-12
    assert (s >= t.decline).mean() <= decline_rate + 1e-12
    assert t.review <= t.decline
    # the rule takes the lowest such threshold: the next lower score would flag too many
    lower = s[s < t.review]
    if lower.size:
        assert (s >= lower.max()).mean() > review_rate


def test_default_thresholds_fill_expected_from_frame(scored: Scored) -> None:
    """Check that default thresholds from a labelled frame carry precision, recall and cost."""
    t = default_thresholds(scored(seed=1))
    assert t.objective == "default"
    for key in ("precision", "recall", "cost", "reviews_per_day", "amount_caught_share"):
        assert t.expected[key] is not None


def test_no_fraud_means_nobody_flagged_by_cost() -> None:
    """Check that with no fraud to catch, the cost objective flags nobody."""
    frame = frame_of(np.linspace(0, 1, 50), np.zeros(50, bool), np.full(50, 10.0))
    t = tune_thresholds(frame, "cost")
    assert t.expected["cost"] == 0.0
    assert t.expected["recall"] is None
    assert (frame["score"] >= t.review).sum() == 0


def test_expected_outcomes_without_labels_leave_label_metrics_none() -> None:
    """Check that unlabelled data gives rates but no precision, recall or cost."""
    out = expected_outcomes(pl.DataFrame({"score": [0.1, 0.5, 0.9]}), 0.4, 0.8)
    assert out["review_share"] == pytest.approx(1 / 3)
    assert out["precision"] is None
    assert out["cost"] is None


def test_expected_precision_is_none_when_nothing_flagged() -> None:
    """Check that precision is None, not NaN or 0, when no transaction is flagged."""
    frame = frame_of(np.array([0.1, 0.2]), np.array([True, False]), np.array([5.0, 5.0]))
    out = expected_outcomes(frame, 0.5, 0.9)
    assert out["precision"] is None
    assert out["recall"] == 0.0


def test_unknown_objective_is_rejected(scored: Scored) -> None:
    """Check that an unknown objective lists the allowed ones."""
    with pytest.raises(ConfigError, match=r"objective must be one of 'cost', 'f1'"):
        tune_thresholds(scored(seed=0, n=100), "profit")


def test_unknown_parameter_is_rejected(scored: Scored) -> None:
    """Check that a parameter of another objective is refused with the allowed names."""
    with pytest.raises(ConfigError, match=r"unknown parameter.*max_reviews_per_day.*allowed"):
        tune_thresholds(scored(seed=0, n=100), "cost", max_reviews_per_day=10)


def test_out_of_range_parameter_is_rejected(scored: Scored) -> None:
    """Check that a precision target above 1 names the parameter and the allowed range."""
    with pytest.raises(ConfigError, match=r"target_precision must be a number in \(0, 1\]"):
        tune_thresholds(scored(seed=0, n=100), "precision", target_precision=1.5)


def test_review_precision_above_target_is_rejected(scored: Scored) -> None:
    """Check that a review precision above the decline target is refused."""
    with pytest.raises(ConfigError, match=r"review_precision .* must not exceed target_precision"):
        tune_thresholds(
            scored(seed=0, n=100), "precision", target_precision=0.5, review_precision=0.8
        )


def test_negative_budget_is_rejected(scored: Scored) -> None:
    """Check that a negative alert budget is refused."""
    with pytest.raises(ConfigError, match="max_reviews_per_day must be an integer"):
        tune_thresholds(scored(seed=0, n=100), "alert-budget", max_reviews_per_day=-1)


def test_cost_objective_needs_amount(scored: Scored) -> None:
    """Check that tuning for cost without an amount column names the missing column."""
    with pytest.raises(MissingColumnsError, match="amount"):
        tune_thresholds(scored(seed=0, n=100).drop("amount"), "cost")


def test_alert_budget_needs_timestamp(scored: Scored) -> None:
    """Check that the alert budget without timestamps names the missing column."""
    with pytest.raises(MissingColumnsError, match="timestamp"):
        tune_thresholds(scored(seed=0, n=100).drop("timestamp"), "alert-budget")


def test_nan_score_is_rejected_with_row(scored: Scored) -> None:
    """Check that a NaN score is refused naming the first bad row."""
    frame = scored(seed=0, n=100)
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 4).then(float("nan")).otherwise("score").alias("score")
    )
    with pytest.raises(DataValidationError, match="row 5: score has 1 missing or non-finite"):
        tune_thresholds(frame, "cost")


def test_labels_other_than_0_1_are_rejected(scored: Scored) -> None:
    """Check that a label of 2 is refused with the allowed values."""
    frame = scored(seed=0, n=100).with_columns(pl.lit(2).alias("is_fraud"))
    with pytest.raises(DataValidationError, match=r"must be 0 \(legitimate\) or 1 \(fraud\)"):
        tune_thresholds(frame, "f1")


def test_empty_frame_is_rejected(scored: Scored) -> None:
    """Check that tuning on zero rows says validation data is needed."""
    with pytest.raises(ConfigError, match="empty frame"):
        tune_thresholds(scored(seed=0, n=100).head(0), "cost")


def test_default_rates_in_wrong_order_are_rejected() -> None:
    """Check that a decline rate above the review rate is refused."""
    with pytest.raises(ConfigError, match=r"decline_rate .* must not exceed review_rate"):
        default_thresholds([0.1, 0.2], review_rate=0.01, decline_rate=0.1)


def test_negative_review_cost_is_rejected() -> None:
    """Check that a negative review cost is refused naming the parameter."""
    with pytest.raises(ConfigError, match="review_cost must be a number in"):
        CostModel(review_cost=-1.0)
