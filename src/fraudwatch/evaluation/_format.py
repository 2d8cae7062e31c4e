"""Labels, definitions and human formatting of the report's metrics."""

from __future__ import annotations

import math

__all__ = ["METRIC_LABELS", "format_metric"]

METRIC_LABELS: dict[str, tuple[str, str]] = {
    "roc_auc": ("ROC AUC", "probability that a fraud scores above a legitimate transaction"),
    "average_precision": ("Average precision", "area under the precision-recall curve (steps)"),
    "precision_at_k": ("Precision@k", "share of fraud among each day's k highest scores, mean"),
    "card_precision_at_k": (
        "Card precision@k",
        "share of compromised cards among each day's k most suspicious cards, known cards "
        "removed, mean over days (handbook)",
    ),
    "recall_at_fpr": ("Recall at FPR", "best recall with at most the given false-positive rate"),
    "fraud_amount_caught_share": (
        "Fraud amount caught",
        "share of the fraud amount reviewed or declined at the thresholds",
    ),
    "expected_cost": (
        "Expected cost",
        "missed fraud amount + review cost x reviews + decline friction x declined legit",
    ),
    "expected_cost_per_transaction": ("Cost per transaction", "expected cost / transactions"),
    "precision_at_thresholds": ("Alert precision", "share of fraud among flagged transactions"),
    "recall_at_thresholds": ("Alert recall", "share of frauds flagged (reviewed or declined)"),
    "reviews_per_day": ("Reviews per day", "transactions sent to analysts, per day"),
    "declines_per_day": ("Declines per day", "transactions declined, per day"),
    "brier_score": ("Brier score", "mean squared error of the score as a probability"),
}

_PERCENT = {
    "precision_at_k",
    "card_precision_at_k",
    "recall_at_fpr",
    "fraud_amount_caught_share",
    "precision_at_thresholds",
    "recall_at_thresholds",
}


def format_metric(name: str, value: float | None) -> str:
    """Human formatting of a metric value (percentages, thousands separators, n/a).

    >>> format_metric("card_precision_at_k", 0.2875)
    '28.75%'
    >>> format_metric("expected_cost", 12345.678)
    '12,345.68'
    >>> format_metric("roc_auc", None)
    'n/a'
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if name in _PERCENT:
        return f"{100 * value:.2f}%"
    if name.startswith("expected_cost") or name.endswith("_per_day"):
        return f"{value:,.2f}"
    return f"{value:.4f}"
