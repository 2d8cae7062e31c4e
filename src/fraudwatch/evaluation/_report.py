"""``evaluate_scores``: every metric of a scored, labelled frame in one typed report."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from fraudwatch.errors import ConfigError
from fraudwatch.evaluation._business import cost_curve, recall_per_scenario
from fraudwatch.evaluation._calibration import brier_score, calibration_table, probability_reason
from fraudwatch.evaluation._ranking import (
    _ap_of,
    _auc_of,
    _pr_of,
    _recall_at_fpr_of,
    _roc_of,
    undefined_reason,
)
from fraudwatch.evaluation._topk import card_precision_at_k_per_day, precision_at_k_per_day
from fraudwatch.thresholds import (
    CostModel,
    Thresholds,
    build_curve,
    default_thresholds,
    expected_outcomes,
)
from fraudwatch.thresholds._checks import Interval, check_interval
from fraudwatch.thresholds._inputs import (
    extract_amount,
    extract_labels,
    extract_scores,
    require_columns,
)

__all__ = ["METRIC_NAMES", "EvaluationReport", "evaluate_scores"]

METRIC_NAMES: tuple[str, ...] = (
    "roc_auc",
    "average_precision",
    "precision_at_k",
    "card_precision_at_k",
    "recall_at_fpr",
    "fraud_amount_caught_share",
    "expected_cost",
    "expected_cost_per_transaction",
    "precision_at_thresholds",
    "recall_at_thresholds",
    "reviews_per_day",
    "declines_per_day",
    "brier_score",
)
"""Headline metrics of a report, in display order (all ``float | None``)."""

_CURVE_POINTS = 400


def _jsonable(value: Any) -> Any:
    """Recursively convert to JSON-safe values; NaN/inf become None, dates ISO strings."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _frame_to_records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return [_jsonable(row) for row in frame.to_dicts()]


def _thin(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> dict[str, list[float]]:
    """At most ``_CURVE_POINTS`` points of a curve, keeping both ends."""
    if x.size > _CURVE_POINTS:
        idx = np.unique(np.linspace(0, x.size - 1, _CURVE_POINTS).round().astype(np.int64))
        x, y = x[idx], y[idx]
    return {"x": [float(v) for v in x], "y": [float(v) for v in y]}


@dataclass(frozen=True)
class EvaluationReport:
    """Everything :func:`evaluate_scores` measured.

    Attributes
    ----------
    metrics:
        Headline metrics (:data:`METRIC_NAMES`); ``None`` when undefined.
    notes:
        For each ``None`` metric, why it is undefined.
    params:
        ``k``, ``delay_days``, ``max_fpr``, cost parameters.
    data:
        ``n_transactions``, ``n_fraud``, ``fraud_rate``, ``fraud_amount``, ``start``, ``end``,
        ``n_days``, ``n_cards``.
    thresholds:
        The thresholds the threshold metrics were computed at.
    thresholds_source:
        ``given`` or ``default`` (the default rule applied to these scores).
    at_thresholds:
        :func:`fraudwatch.thresholds.expected_outcomes` on this data.
    per_day, per_scenario, calibration, cost_curve:
        Tables (polars DataFrames).
    curves:
        Thinned ROC, PR and score-histogram data for plots.
    """

    metrics: dict[str, float | None]
    notes: dict[str, str]
    params: dict[str, Any]
    data: dict[str, Any]
    thresholds: Thresholds
    thresholds_source: str
    at_thresholds: dict[str, float | None]
    per_day: pl.DataFrame
    per_scenario: pl.DataFrame
    calibration: pl.DataFrame
    cost_curve: pl.DataFrame
    curves: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary; undefined values are ``null``, never NaN."""
        out: dict[str, Any] = _jsonable(
            {
                "metrics": dict(self.metrics),
                "notes": dict(self.notes),
                "params": dict(self.params),
                "data": dict(self.data),
                "thresholds": self.thresholds.to_dict(),
                "thresholds_source": self.thresholds_source,
                "at_thresholds": dict(self.at_thresholds),
                "per_day": _frame_to_records(self.per_day),
                "per_scenario": _frame_to_records(self.per_scenario),
                "calibration": _frame_to_records(self.calibration),
                "cost_curve": _frame_to_records(self.cost_curve),
                "curves": self.curves,
            }
        )
        return out

    def to_json(self, indent: int | None = 2) -> str:
        """The report as strict JSON (``allow_nan=False``)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)


def _score_histogram(
    s: npt.NDArray[np.float64], y: npt.NDArray[np.bool_], bins: int = 50
) -> dict[str, Any]:
    low, high = float(s.min()), float(s.max())
    if high <= low:
        high = low + 1.0
    edges = np.linspace(low, high, bins + 1)
    legit, _ = np.histogram(s[~y], bins=edges)
    fraud, _ = np.histogram(s[y], bins=edges)
    return {
        "edges": [float(v) for v in edges],
        "legit": [int(v) for v in legit],
        "fraud": [int(v) for v in fraud],
    }


def _per_day_table(
    frame: pl.DataFrame,
    k: int,
    delay: timedelta,
    history: pl.DataFrame | None,
    score_col: str,
    notes: dict[str, str],
) -> tuple[pl.DataFrame, float | None, float | None]:
    p_day = precision_at_k_per_day(frame, k, score_col=score_col)
    counts = (
        frame.group_by(pl.col("timestamp").dt.date().alias("day"))
        .agg(n_fraud=pl.col("is_fraud").cast(pl.Int64).sum())
        .sort("day")
    )
    table = p_day.join(counts, on="day", how="left").rename({"precision": "precision_at_k"})
    p_mean = float(p_day["precision"].mean()) if p_day.height else None  # type: ignore[arg-type]
    cp_mean: float | None = None
    if "card_id" in frame.columns:
        cp = card_precision_at_k_per_day(
            frame, k, delay=delay, history=history, score_col=score_col
        )
        table = table.join(
            cp.select(
                "day",
                pl.col("card_precision").alias("card_precision_at_k"),
                "n_compromised_cards",
                "n_known_removed",
            ),
            on="day",
            how="left",
        )
        cp_mean = float(cp["card_precision"].mean()) if cp.height else None  # type: ignore[arg-type]
    else:
        notes["card_precision_at_k"] = "no card_id column: card precision@k needs cards"
        table = table.with_columns(pl.lit(None, dtype=pl.Float64).alias("card_precision_at_k"))
    return table.sort("day"), p_mean, cp_mean


def evaluate_scores(
    frame: pl.DataFrame,
    thresholds: Thresholds | None = None,
    k: int = 100,
    delay: timedelta = timedelta(days=7),
    *,
    history: pl.DataFrame | None = None,
    max_fpr: float = 0.01,
    cost_model: CostModel | None = None,
    calibration_bins: int = 10,
    score_col: str = "score",
) -> EvaluationReport:
    """Evaluate scores against labels: ranking, top-k, threshold, cost and calibration metrics.

    Parameters
    ----------
    frame:
        Scored, labelled transactions: ``timestamp``, ``amount``, ``is_fraud``, the score;
        optionally ``card_id`` (for CP@k) and ``fraud_scenario`` (recall per scenario).
    thresholds:
        Thresholds to evaluate at (e.g. the model bundle's); ``None`` applies the default rule
        (:func:`fraudwatch.thresholds.default_thresholds`) to these scores.
    k:
        Alerts (transactions, cards) per day for precision@k and CP@k.
    delay:
        Label delay: cards with a fraud before ``day - delay`` are known and left out of CP@k.
    history:
        Earlier labelled transactions for the known-compromised cards.
    max_fpr:
        False-positive rate for ``recall_at_fpr``.
    cost_model:
        Costs; default: the thresholds' ``review_cost`` / ``decline_friction`` params if set,
        else :class:`CostModel()`.
    calibration_bins:
        Bins of the calibration table.
    score_col:
        Name of the score column.

    Returns
    -------
    EvaluationReport
        Undefined metrics (single class, no fraud amount, scores not probabilities) are
        ``None`` with the reason in ``notes``.

    Raises
    ------
    MissingColumnsError
        A required column is absent.
    ConfigError
        No transactions, or a parameter out of range.
    """
    check_interval("k", k, Interval(1, None, integer=True))
    check_interval("max_fpr", max_fpr, Interval(0.0, 1.0))
    require_columns(
        frame, ["timestamp", "amount", "is_fraud", score_col], purpose="evaluate_scores"
    )
    if frame.height == 0:
        raise ConfigError("no transactions to evaluate; check the --data path and date filters")
    s = extract_scores(frame, score_col)
    y = extract_labels(frame)
    amount = extract_amount(frame)
    notes: dict[str, str] = {}

    curve = build_curve(s, y, amount)  # one sort serves every ranking and cost metric
    source = "given"
    if thresholds is None:
        thresholds = default_thresholds(s, curve=curve)
        source = "default"
    if cost_model is None:
        p = thresholds.params
        cost_model = CostModel(
            review_cost=float(p.get("review_cost", CostModel.review_cost)),
            decline_friction=float(p.get("decline_friction", CostModel.decline_friction)),
        )
    at = expected_outcomes(
        frame, thresholds.review, thresholds.decline, cost_model=cost_model, score_col=score_col
    )

    reason = undefined_reason(y)
    per_day, p_at_k, cp_at_k = _per_day_table(frame, k, delay, history, score_col, notes)
    metrics: dict[str, float | None] = {
        "roc_auc": _auc_of(curve),
        "average_precision": _ap_of(curve),
        "precision_at_k": p_at_k,
        "card_precision_at_k": cp_at_k,
        "recall_at_fpr": _recall_at_fpr_of(curve, max_fpr),
        "fraud_amount_caught_share": at["amount_caught_share"],
        "expected_cost": at["cost"],
        "expected_cost_per_transaction": at["cost_per_transaction"],
        "precision_at_thresholds": at["precision"],
        "recall_at_thresholds": at["recall"],
        "reviews_per_day": at["reviews_per_day"],
        "declines_per_day": at["declines_per_day"],
        "brier_score": brier_score(y, s),
    }
    if not y.any():
        # precision-type metrics are 0 by construction without fraud: report them as undefined
        for name in ("precision_at_k", "card_precision_at_k"):
            metrics[name] = None
    if reason is not None:
        for name in ("roc_auc", "recall_at_fpr"):
            notes[name] = reason
    if not y.any():
        for name in (
            "average_precision",
            "precision_at_k",
            "card_precision_at_k",
            "recall_at_thresholds",
            "fraud_amount_caught_share",
        ):
            notes.setdefault(name, "no fraud in the data")
    if metrics["fraud_amount_caught_share"] is None and y.any():
        notes["fraud_amount_caught_share"] = "the frauds have a total amount of 0"
    if metrics["precision_at_thresholds"] is None:
        notes["precision_at_thresholds"] = "no transaction reaches the review threshold"
    prob_reason = probability_reason(s)
    if prob_reason is not None:
        notes["brier_score"] = prob_reason
    for name, value in metrics.items():
        if value is None and name not in notes:
            notes[name] = "undefined for this data"

    if "fraud_scenario" in frame.columns:
        per_scenario = recall_per_scenario(frame, thresholds, score_col=score_col)
    else:
        per_scenario = recall_per_scenario(
            frame.with_columns(pl.lit(None, dtype=pl.String).alias("fraud_scenario")),
            thresholds,
            score_col=score_col,
        )
        notes["per_scenario"] = "no fraud_scenario column"

    curves: dict[str, Any] = {"score_histogram": _score_histogram(s, y)}
    roc = _roc_of(curve)
    if roc is not None:
        curves["roc"] = _thin(roc.x, roc.y)
    pr = _pr_of(curve)
    if pr is not None:
        curves["pr"] = _thin(pr.x, pr.y)

    ts = frame.get_column("timestamp")
    data: dict[str, Any] = {
        "n_transactions": frame.height,
        "n_fraud": int(y.sum()),
        "fraud_rate": float(y.mean()),
        "fraud_amount": float(amount[y].sum()),
        "start": ts.min(),
        "end": ts.max(),
        "n_days": int(ts.dt.date().n_unique()),
        "n_cards": int(frame.get_column("card_id").n_unique())
        if "card_id" in frame.columns
        else None,
    }
    params: dict[str, Any] = {
        "k": k,
        "delay_days": delay.total_seconds() / 86_400,
        "max_fpr": max_fpr,
        "review_cost": cost_model.review_cost,
        "decline_friction": cost_model.decline_friction,
        "calibration_bins": calibration_bins,
        "with_history": history is not None,
    }
    return EvaluationReport(
        metrics=metrics,
        notes=notes,
        params=params,
        data=data,
        thresholds=thresholds,
        thresholds_source=source,
        at_thresholds=at,
        per_day=per_day,
        per_scenario=per_scenario,
        calibration=calibration_table(y, s, calibration_bins),
        cost_curve=cost_curve(frame, thresholds, cost_model, score_col=score_col, curve=curve),
        curves=curves,
    )
