"""Evaluation of fraud scores: ranking metrics, daily top-k metrics, cost, reports, backtests.

Higher score always means more suspicious. Metric functions are pure (arrays or polars frames
in, numbers out) and return ``None`` when a metric is undefined. See docs/evaluation.md.
"""

from __future__ import annotations

from fraudwatch.evaluation._business import (
    cost_curve,
    expected_cost,
    fraud_amount_caught_share,
    recall_per_scenario,
)
from fraudwatch.evaluation._calibration import brier_score, calibration_table, probability_reason
from fraudwatch.evaluation._format import METRIC_LABELS, format_metric
from fraudwatch.evaluation._html import render_html, write_report
from fraudwatch.evaluation._prequential import (
    BacktestResult,
    Fold,
    FoldModel,
    FoldResult,
    TrainFn,
    Window,
    backtest,
    folds_for_data,
    handbook_folds,
    prequential_folds,
)
from fraudwatch.evaluation._ranking import (
    Curve,
    average_precision,
    pr_curve,
    recall_at_fpr,
    roc_auc,
    roc_curve,
    undefined_reason,
)
from fraudwatch.evaluation._report import METRIC_NAMES, EvaluationReport, evaluate_scores
from fraudwatch.evaluation._topk import (
    card_precision_at_k,
    card_precision_at_k_per_day,
    known_compromised_mask,
    precision_at_k,
    precision_at_k_per_day,
    remove_known_compromised,
)

__all__ = [
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
