"""Threshold-free ranking metrics: ROC and precision-recall curves, ROC AUC, average precision.

All computed from cumulative counts at the distinct scores (ties handled exactly: tied scores
move together, as in scikit-learn). They return ``None`` when the metric is undefined
(empty input, or a single class); :func:`undefined_reason` says why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fraudwatch.thresholds import ScoreCurve, build_curve
from fraudwatch.thresholds._checks import Interval, check_interval
from fraudwatch.thresholds._inputs import as_labels, as_scores

__all__ = [
    "Curve",
    "average_precision",
    "pr_curve",
    "recall_at_fpr",
    "roc_auc",
    "roc_curve",
    "undefined_reason",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Curve:
    """Points of a curve, one per distinct score (``thresholds`` descending).

    For a ROC curve ``x`` is the false-positive rate and ``y`` the true-positive rate; for a
    precision-recall curve ``x`` is recall and ``y`` precision.
    """

    x: FloatArray
    y: FloatArray
    thresholds: FloatArray


def _prepare(
    y_true: npt.ArrayLike, y_score: npt.ArrayLike
) -> tuple[npt.NDArray[np.bool_], FloatArray]:
    y = as_labels(y_true)
    s = as_scores(y_score)
    if y.shape != s.shape:
        from fraudwatch.errors import DataValidationError

        raise DataValidationError(
            f"y_true has {y.size} values but y_score has {s.size}; pass one score per label"
        )
    return y, s


def undefined_reason(y_true: npt.ArrayLike) -> str | None:
    """Why ranking metrics are undefined for these labels, or ``None`` if they are defined.

    >>> undefined_reason([0, 0, 0])
    'no fraud in the data'
    >>> undefined_reason([0, 1]) is None
    True
    """
    y = as_labels(y_true)
    if y.size == 0:
        return "no transactions"
    if not y.any():
        return "no fraud in the data"
    if y.all():
        return "no legitimate transactions in the data"
    return None


def _counts(curve: ScoreCurve) -> tuple[FloatArray, FloatArray, FloatArray]:
    """True/false positives at each distinct score, thresholds descending."""
    # drop the sentinel (nobody flagged) and reverse to descending thresholds
    tps = curve.fraud_ge[:-1][::-1].astype(np.float64)
    fps = curve.legit_ge[:-1][::-1].astype(np.float64)
    return tps, fps, curve.thresholds[:-1][::-1]


def _roc_of(curve: ScoreCurve) -> Curve | None:
    n_pos, n_neg = curve.n_fraud, curve.n - curve.n_fraud
    if n_pos == 0 or n_neg == 0:
        return None
    tps, fps, thr = _counts(curve)
    fpr = np.concatenate(([0.0], fps / n_neg))
    tpr = np.concatenate(([0.0], tps / n_pos))
    return Curve(x=fpr, y=tpr, thresholds=np.concatenate(([np.inf], thr)))


def _pr_of(curve: ScoreCurve) -> Curve | None:
    if curve.n_fraud == 0:
        return None
    tps, fps, thr = _counts(curve)
    return Curve(x=tps / curve.n_fraud, y=tps / (tps + fps), thresholds=thr)


def _auc_of(curve: ScoreCurve) -> float | None:
    roc = _roc_of(curve)
    return None if roc is None else float(np.trapezoid(roc.y, roc.x))


def _ap_of(curve: ScoreCurve) -> float | None:
    pr = _pr_of(curve)
    if pr is None:
        return None
    return float(np.sum(np.diff(np.concatenate(([0.0], pr.x))) * pr.y))


def _recall_at_fpr_of(curve: ScoreCurve, max_fpr: float) -> float | None:
    roc = _roc_of(curve)
    if roc is None:
        return None
    return float(roc.y[roc.x <= max_fpr + 1e-12].max())


def _curve(y_true: npt.ArrayLike, y_score: npt.ArrayLike) -> ScoreCurve:
    y, s = _prepare(y_true, y_score)
    return build_curve(s, y)


def roc_curve(y_true: npt.ArrayLike, y_score: npt.ArrayLike) -> Curve | None:
    """The ROC curve, starting at (0, 0); ``None`` when a class is missing."""
    return _roc_of(_curve(y_true, y_score))


def roc_auc(y_true: npt.ArrayLike, y_score: npt.ArrayLike) -> float | None:
    """Area under the ROC curve (probability a fraud outranks a legit; ties count half).

    Returns ``None`` when only one class is present.

    Examples
    --------
    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    >>> roc_auc([0, 0], [0.1, 0.2]) is None
    True
    """
    return _auc_of(_curve(y_true, y_score))


def pr_curve(y_true: npt.ArrayLike, y_score: npt.ArrayLike) -> Curve | None:
    """The precision-recall curve at each distinct score; ``None`` when there is no fraud."""
    return _pr_of(_curve(y_true, y_score))


def average_precision(y_true: npt.ArrayLike, y_score: npt.ArrayLike) -> float | None:
    """Average precision: ``sum_j (R_j - R_{j-1}) * P_j`` over distinct scores, descending.

    The step-wise (non-interpolated) definition used by scikit-learn and the handbook.
    ``None`` when there is no fraud.

    Examples
    --------
    >>> round(average_precision([0, 1, 0, 1], [0.1, 0.9, 0.8, 0.3]), 4)
    0.8333
    """
    return _ap_of(_curve(y_true, y_score))


def recall_at_fpr(
    y_true: npt.ArrayLike, y_score: npt.ArrayLike, max_fpr: float = 0.01
) -> float | None:
    """The highest recall reachable with a false-positive rate of at most ``max_fpr``.

    Only real thresholds count (no interpolation between ROC points). ``None`` when a class
    is missing.

    Examples
    --------
    >>> recall_at_fpr([0, 0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.9, 0.8, 0.95], max_fpr=0.0)
    0.5
    """
    check_interval("max_fpr", max_fpr, Interval(0.0, 1.0))
    return _recall_at_fpr_of(_curve(y_true, y_score), max_fpr)
