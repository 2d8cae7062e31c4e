"""Tests of evaluate_scores, the business and calibration metrics, and the HTML report."""

from __future__ import annotations

import doctest
import json
import math
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from eval_synthetic import make_scored
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import brier_score_loss

import fraudwatch.evaluation as ev
from fraudwatch.errors import ConfigError, MissingColumnsError
from fraudwatch.evaluation import (
    METRIC_NAMES,
    brier_score,
    calibration_table,
    card_precision_at_k,
    evaluate_scores,
    fraud_amount_caught_share,
    recall_per_scenario,
    render_html,
    write_report,
)
from fraudwatch.thresholds import CostModel, Thresholds, tune_thresholds


def strict_json(text: str) -> object:
    """Parse JSON refusing NaN / Infinity."""

    def refuse(name: str) -> None:
        raise AssertionError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return make_scored(seed=21)


def test_public_surface_is_pinned() -> None:
    """Check that fraudwatch.evaluation exports exactly the documented names."""
    assert sorted(ev.__all__) == sorted(
        [
            "METRIC_LABELS",
            "METRIC_NAMES",
            "BacktestResult",
            "Curve",
            "EvaluationReport",
            "Fold",
            "FoldModel",
            "FoldResult",
            "TrainFn",
            "Window",
            "average_precision",
            "backtest",
            "brier_score",
            "calibration_table",
            "card_precision_at_k",
            "card_precision_at_k_per_day",
            "cost_curve",
            "evaluate_scores",
            "expected_cost",
            "folds_for_data",
            "format_metric",
            "fraud_amount_caught_share",
            "handbook_folds",
            "known_compromised_mask",
            "pr_curve",
            "precision_at_k",
            "precision_at_k_per_day",
            "prequential_folds",
            "probability_reason",
            "recall_at_fpr",
            "recall_per_scenario",
            "remove_known_compromised",
            "render_html",
            "roc_auc",
            "roc_curve",
            "undefined_reason",
            "write_report",
        ]
    )


def test_doctests_pass() -> None:
    """Check that the examples of the report, business and calibration modules run."""
    from fraudwatch.evaluation import _business, _calibration, _format, _prequential

    for module in (_business, _calibration, _format, _prequential):
        assert doctest.testmod(module).failed == 0, module.__name__


def test_report_has_every_metric_and_strict_json(frame: pl.DataFrame) -> None:
    """Check that the report holds every headline metric and serialises to strict JSON."""
    report = evaluate_scores(frame)
    assert list(report.metrics) == list(METRIC_NAMES)
    assert all(v is not None for v in report.metrics.values())
    data = strict_json(report.to_json())
    assert isinstance(data, dict)
    assert data["metrics"]["roc_auc"] == report.metrics["roc_auc"]


def test_better_model_scores_better_on_every_ranking_metric() -> None:
    """Check that sharper scores on the same labels improve AUC, AP, P@k and CP@k."""
    weak = make_scored(seed=4, separation=1.0)
    strong = make_scored(seed=4, separation=4.0)  # same labels, same rows, better scores
    assert weak["is_fraud"].equals(strong["is_fraud"])
    rw, rs = evaluate_scores(weak, k=20), evaluate_scores(strong, k=20)
    for name in ("roc_auc", "average_precision", "precision_at_k", "card_precision_at_k"):
        assert rs.metrics[name] > rw.metrics[name], name  # type: ignore[operator]


def test_given_thresholds_are_used_and_cost_is_independent(frame: pl.DataFrame) -> None:
    """Check that given thresholds drive the cost, which matches the cost model on its own."""
    t = Thresholds(review=0.05, decline=0.3, params={"review_cost": 2.0})
    report = evaluate_scores(frame, t)
    assert report.thresholds == t
    assert report.thresholds_source == "given"
    cm = CostModel(review_cost=2.0, decline_friction=20.0)
    s, y, a = frame["score"].to_numpy(), frame["is_fraud"].to_numpy(), frame["amount"].to_numpy()
    assert report.metrics["expected_cost"] == pytest.approx(cm.total(s, y, a, 0.05, 0.3))


def test_default_thresholds_when_none_given(frame: pl.DataFrame) -> None:
    """Check that without thresholds the default rule is applied and said so."""
    report = evaluate_scores(frame)
    assert report.thresholds_source == "default"
    assert report.thresholds.objective == "default"


def test_no_fraud_gives_none_with_reasons(frame: pl.DataFrame) -> None:
    """Check that data without fraud gives None metrics with reasons and no NaN in JSON."""
    legit = frame.with_columns(pl.lit(0, dtype=pl.Int8).alias("is_fraud"))
    report = evaluate_scores(legit)
    for name in ("roc_auc", "average_precision", "card_precision_at_k", "recall_at_fpr"):
        assert report.metrics[name] is None
        assert "no fraud" in report.notes[name]
    assert report.metrics["expected_cost"] is not None  # false alarms still cost
    strict_json(report.to_json())


def test_all_fraud_gives_none_auc(frame: pl.DataFrame) -> None:
    """Check that a single class of fraud only makes AUC undefined with a reason."""
    report = evaluate_scores(frame.head(50).with_columns(pl.lit(1).alias("is_fraud")))
    assert report.metrics["roc_auc"] is None
    assert report.notes["roc_auc"] == "no legitimate transactions in the data"


def test_scores_outside_unit_interval_have_no_brier(frame: pl.DataFrame) -> None:
    """Check that scores outside [0, 1] get no Brier score and say why."""
    report = evaluate_scores(frame.with_columns(pl.col("score") * 10 - 1))
    assert report.metrics["brier_score"] is None
    assert "not probabilities" in report.notes["brier_score"]


def test_report_card_precision_equals_function(frame: pl.DataFrame) -> None:
    """Check that the report's CP@k equals card_precision_at_k on the same frame."""
    report = evaluate_scores(frame, k=15)
    assert report.metrics["card_precision_at_k"] == pytest.approx(card_precision_at_k(frame, 15))


def test_missing_card_id_leaves_cp_undefined(frame: pl.DataFrame) -> None:
    """Check that without card_id CP@k is None with a reason and other metrics remain."""
    report = evaluate_scores(frame.drop("card_id"))
    assert report.metrics["card_precision_at_k"] is None
    assert "card_id" in report.notes["card_precision_at_k"]
    assert report.metrics["roc_auc"] is not None


def test_per_day_table_covers_every_transaction(frame: pl.DataFrame) -> None:
    """Check that the per-day table counts every transaction and fraud once."""
    report = evaluate_scores(frame)
    assert report.per_day["n_transactions"].sum() == frame.height
    assert report.per_day["n_fraud"].sum() == frame["is_fraud"].cast(pl.Int64).sum()


def test_empty_frame_is_rejected(frame: pl.DataFrame) -> None:
    """Check that evaluating zero rows is refused with advice."""
    with pytest.raises(ConfigError, match="no transactions to evaluate"):
        evaluate_scores(frame.head(0))


def test_missing_score_column_is_named(frame: pl.DataFrame) -> None:
    """Check that a frame without scores names the missing column."""
    with pytest.raises(MissingColumnsError, match="score"):
        evaluate_scores(frame.drop("score"))


def test_recall_per_scenario_matches_manual_count(frame: pl.DataFrame) -> None:
    """Check each scenario's recall against counting its frauds above the review threshold."""
    t = Thresholds(review=0.05, decline=0.2)
    table = recall_per_scenario(frame, t)
    assert "legit" not in table["scenario"].to_list()
    for row in table.iter_rows(named=True):
        mine = frame.filter(
            (pl.col("fraud_scenario") == row["scenario"]) & (pl.col("is_fraud") == 1)
        )
        assert row["n_fraud"] == mine.height
        assert row["recall"] == pytest.approx((mine["score"] >= 0.05).mean())
        assert row["decline_recall"] == pytest.approx((mine["score"] >= 0.2).mean())


@given(
    st.lists(
        st.tuples(st.booleans(), st.floats(0, 1), st.floats(0, 1000)), min_size=1, max_size=60
    ),
    st.floats(0, 1),
)
@settings(max_examples=80, deadline=None)
def test_amount_caught_share_matches_loop(
    rows: list[tuple[bool, float, float]], threshold: float
) -> None:
    """Check the share of fraud amount caught against a loop over transactions."""
    y, s, a = (np.array(c) for c in zip(*rows, strict=True))
    total = sum(amt for fraud, _, amt in rows if fraud)
    caught = sum(amt for fraud, sc, amt in rows if fraud and sc >= threshold)
    got = fraud_amount_caught_share(y, s, a, threshold)
    if total == 0:
        assert got is None
    else:
        assert got == pytest.approx(caught / total)


@given(
    st.lists(st.tuples(st.booleans(), st.floats(0, 1)), min_size=1, max_size=200),
    st.integers(1, 12),
    st.sampled_from(["quantile", "uniform"]),
)
@settings(max_examples=80, deadline=None)
def test_calibration_table_accounts_for_every_row(
    rows: list[tuple[bool, float]], n_bins: int, strategy: str
) -> None:
    """Check that calibration bins partition the rows, are ordered and average to the base rate."""
    y = np.array([r[0] for r in rows])
    s = np.array([r[1] for r in rows])
    table = calibration_table(y, s, n_bins, strategy)
    assert table["n"].sum() == len(rows)
    assert table.height <= n_bins
    weighted = (table["fraud_rate"] * table["n"]).sum() / len(rows)
    assert weighted == pytest.approx(y.mean())
    highs, lows = table["score_high"].to_list(), table["score_low"].to_list()
    assert all(h <= low for h, low in zip(highs[:-1], lows[1:], strict=True))


@given(st.lists(st.tuples(st.booleans(), st.floats(0, 1)), min_size=1, max_size=100))
@settings(max_examples=60, deadline=None)
def test_brier_matches_scikit_learn(rows: list[tuple[bool, float]]) -> None:
    """Check the Brier score against scikit-learn's."""
    y = np.array([r[0] for r in rows])
    s = np.array([r[1] for r in rows])
    assert brier_score(y, s) == pytest.approx(brier_score_loss(y, s, labels=[0, 1]))


def test_cost_curve_is_lowest_at_tuned_thresholds(frame: pl.DataFrame) -> None:
    """Check that with cost-tuned thresholds neither curve dips below the chosen cost."""
    t = tune_thresholds(frame, "cost")
    report = evaluate_scores(frame, t)
    chosen = report.metrics["expected_cost"]
    assert chosen is not None
    for column in ("cost_moving_review", "cost_moving_decline"):
        values = report.cost_curve[column].drop_nulls()
        assert values.min() == pytest.approx(chosen)


def test_html_is_self_contained_with_all_plots(frame: pl.DataFrame) -> None:
    """Check that the HTML page needs no network and holds every plot and table."""
    html = render_html(evaluate_scores(frame), meta={"model": "m-1"})
    from plotly.offline import get_plotlyjs

    plotlyjs = get_plotlyjs()
    assert plotlyjs in html  # the library is inlined...
    page = html.replace(plotlyjs, "")
    assert re.search(r"""(src|href)=["']?https?://""", page) is None  # ...and nothing fetched
    assert "Plotly.newPlot" in html
    for name in ("pr", "roc", "scores", "cost", "per-day", "calibration"):
        assert f'id="plot-{name}"' in html
    for scenario in ("card_testing", "account_takeover", "stolen_card"):
        assert scenario in html
    assert "m-1" in html


def test_html_escapes_data_values(frame: pl.DataFrame) -> None:
    """Check that a hostile scenario name is escaped, not injected into the page."""
    hostile = frame.with_columns(
        pl.when(pl.col("is_fraud") == 1)
        .then(pl.lit("<script>alert(1)</script>"))
        .otherwise(pl.col("fraud_scenario"))
        .alias("fraud_scenario")
    )
    html = render_html(evaluate_scores(hostile))
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_html_renders_degenerate_report(frame: pl.DataFrame) -> None:
    """Check that a report without fraud still renders, showing n/a for undefined metrics."""
    legit = frame.with_columns(pl.lit(0, dtype=pl.Int8).alias("is_fraud"))
    html = render_html(evaluate_scores(legit))
    assert "n/a" in html


def test_write_report_writes_json_and_html(frame: pl.DataFrame, tmp_path: Path) -> None:
    """Check that write_report writes strict JSON with the meta and an HTML file."""
    paths = write_report(evaluate_scores(frame), tmp_path / "out", meta={"model": "v3"})
    data = strict_json(paths["json"].read_text())
    assert isinstance(data, dict)
    assert data["meta"] == {"model": "v3"}
    assert paths["html"].read_text().startswith("<!DOCTYPE html>")
    assert not any(isinstance(v, float) and math.isnan(v) for v in data["metrics"].values())
