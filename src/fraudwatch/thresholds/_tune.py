"""Choosing the review and decline thresholds: the default rule and the tuning objectives.

Every search is exact over the distinct scores of the data, done with cumulative counts
(:mod:`fraudwatch.thresholds._curve`), never a Python loop over rows. See docs/evaluation.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from fraudwatch.errors import ConfigError
from fraudwatch.thresholds._checks import Interval, check_choice, check_interval
from fraudwatch.thresholds._curve import CostModel, ScoreCurve, build_curve
from fraudwatch.thresholds._inputs import (
    as_scores,
    day_codes,
    extract_amount,
    extract_labels,
    extract_scores,
    require_columns,
)
from fraudwatch.thresholds._model import Thresholds

__all__ = [
    "DEFAULT_DECLINE_RATE",
    "DEFAULT_REVIEW_RATE",
    "TUNING_OBJECTIVES",
    "default_thresholds",
    "expected_outcomes",
    "tune_thresholds",
]

log = logging.getLogger(__name__)

DEFAULT_REVIEW_RATE = 0.01
"""Default rule: at most this share of transactions is flagged (reviewed or declined)."""
DEFAULT_DECLINE_RATE = 0.001
"""Default rule: at most this share of transactions is declined."""

TUNING_OBJECTIVES: tuple[str, ...] = ("cost", "f1", "precision", "alert-budget")

_UNIT = Interval(0.0, 1.0, closed="right")
_NONNEG = Interval(0.0, None)

# objective -> {parameter: (default, allowed interval or choices)}
_PARAMS: dict[str, dict[str, tuple[Any, Interval | tuple[str, ...]]]] = {
    "cost": {},
    "f1": {"decline_precision": (0.9, _UNIT)},
    "precision": {"target_precision": (0.9, _UNIT), "review_precision": (0.3, _UNIT)},
    "alert-budget": {
        "max_reviews_per_day": (100, Interval(0, None, integer=True)),
        "decline_precision": (0.9, _UNIT),
        "budget_statistic": ("max", ("max", "mean")),
    },
}
_COST_PARAMS: dict[str, tuple[Any, Interval | tuple[str, ...]]] = {
    "review_cost": (5.0, _NONNEG),
    "decline_friction": (20.0, _NONNEG),
}


def _resolve_params(objective: str, given: Mapping[str, Any]) -> dict[str, Any]:
    spec = {**_PARAMS[objective], **_COST_PARAMS}
    unknown = sorted(set(given) - set(spec))
    if unknown:
        raise ConfigError(
            f"unknown parameter(s) for objective {objective!r}: {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(spec))}"
        )
    out: dict[str, Any] = {}
    for name, (default, allowed) in spec.items():
        value = given.get(name, default)
        if value is None:
            value = default
        if isinstance(allowed, Interval):
            check_interval(name, value, allowed)
            value = int(value) if allowed.integer else float(value)
        else:
            check_choice(name, value, allowed)
        out[name] = value
    if objective == "precision" and out["review_precision"] > out["target_precision"]:
        raise ConfigError(
            f"review_precision ({out['review_precision']:g}) must not exceed target_precision "
            f"({out['target_precision']:g}): reviews are the wider, less precise band"
        )
    return out


def _outcomes(
    s: npt.NDArray[np.float64],
    y: npt.NDArray[np.bool_] | None,
    amount: npt.NDArray[np.float64] | None,
    days: npt.NDArray[np.int64] | None,
    review: float,
    decline: float,
    cost_model: CostModel,
) -> dict[str, float | None]:
    n = int(s.size)
    declined = s >= decline
    flagged = s >= review
    reviewed = flagged & ~declined
    n_flag, n_dec, n_rev = int(flagged.sum()), int(declined.sum()), int(reviewed.sum())
    out: dict[str, float | None] = {
        "n_transactions": float(n),
        "review_share": n_rev / n if n else None,
        "decline_share": n_dec / n if n else None,
    }
    if days is not None and n:
        uniq, inv = np.unique(days, return_inverse=True)
        n_days = int(uniq.size)
        per_day_rev = np.bincount(inv[reviewed], minlength=n_days)
        out |= {
            "n_days": float(n_days),
            "reviews_per_day": n_rev / n_days,
            "declines_per_day": n_dec / n_days,
            "alerts_per_day": n_flag / n_days,
            "max_reviews_per_day": float(per_day_rev.max()),
        }
    else:
        out |= dict.fromkeys(
            ("n_days", "reviews_per_day", "declines_per_day", "alerts_per_day"), None
        )
        out["max_reviews_per_day"] = None
    if y is None:
        return out | dict.fromkeys(
            (
                "n_fraud",
                "false_positive_rate",
                "precision",
                "recall",
                "review_precision",
                "decline_precision",
                "decline_recall",
                "amount_caught_share",
                "cost",
                "cost_per_transaction",
                "missed_fraud_amount",
            ),
            None,
        )
    n_fraud = int(y.sum())
    tp_flag, tp_dec = int((y & flagged).sum()), int((y & declined).sum())
    tp_rev = tp_flag - tp_dec
    n_legit = n - n_fraud
    out |= {
        "n_fraud": float(n_fraud),
        "false_positive_rate": (n_flag - tp_flag) / n_legit if n_legit else None,
        "precision": tp_flag / n_flag if n_flag else None,
        "recall": tp_flag / n_fraud if n_fraud else None,
        "review_precision": tp_rev / n_rev if n_rev else None,
        "decline_precision": tp_dec / n_dec if n_dec else None,
        "decline_recall": tp_dec / n_fraud if n_fraud else None,
    }
    if amount is None:
        return out | dict.fromkeys(
            ("amount_caught_share", "cost", "cost_per_transaction", "missed_fraud_amount"), None
        )
    fraud_amount = float(amount[y].sum())
    missed = float(amount[y & ~flagged].sum())
    cost = cost_model.total(s, y, amount, review, decline)
    return out | {
        "amount_caught_share": (fraud_amount - missed) / fraud_amount if fraud_amount else None,
        "missed_fraud_amount": missed,
        "cost": cost,
        "cost_per_transaction": cost / n if n else None,
    }


def _frame_arrays(
    frame: pl.DataFrame, score_col: str
) -> tuple[
    npt.NDArray[np.float64],
    npt.NDArray[np.bool_] | None,
    npt.NDArray[np.float64] | None,
    npt.NDArray[np.int64] | None,
]:
    s = extract_scores(frame, score_col)
    y = extract_labels(frame) if "is_fraud" in frame.columns else None
    a = extract_amount(frame) if "amount" in frame.columns else None
    d = day_codes(frame) if "timestamp" in frame.columns else None
    return s, y, a, d


def expected_outcomes(
    frame: pl.DataFrame,
    review: float,
    decline: float,
    *,
    cost_model: CostModel | None = None,
    score_col: str = "score",
) -> dict[str, float | None]:
    """What thresholds do on a scored frame: rates, alerts per day, precision, recall, cost.

    Uses whichever of ``is_fraud``, ``amount`` and ``timestamp`` the frame has; metrics
    that need a missing column, or that are undefined (no fraud, nothing flagged), are None.

    Parameters
    ----------
    frame:
        Scored transactions (``score`` and optionally ``is_fraud``, ``amount``, ``timestamp``).
    review, decline:
        The thresholds (``review <= decline``).
    cost_model:
        Costs for ``cost``; default :class:`CostModel()`.
    score_col:
        Name of the score column.

    Examples
    --------
    >>> df = pl.DataFrame({"score": [0.1, 0.5, 0.9], "is_fraud": [0, 0, 1]})
    >>> out = expected_outcomes(df, 0.4, 0.8)
    >>> out["precision"], out["recall"], out["decline_precision"]
    (0.5, 1.0, 1.0)
    """
    s, y, a, d = _frame_arrays(frame, score_col)
    return _outcomes(s, y, a, d, review, decline, cost_model or CostModel())


def default_thresholds(
    data: pl.DataFrame | npt.ArrayLike,
    *,
    review_rate: float = DEFAULT_REVIEW_RATE,
    decline_rate: float = DEFAULT_DECLINE_RATE,
    cost_model: CostModel | None = None,
    score_col: str = "score",
    curve: ScoreCurve | None = None,
) -> Thresholds:
    """Thresholds that are sensible without tuning, from the score distribution alone.

    Rule: ``decline`` is the lowest score such that at most ``decline_rate`` (0.1 %) of the
    transactions score at or above it; ``review`` the lowest such that at most
    ``review_rate`` (1 %) do. So at most 1 % of traffic is flagged and 0.1 % declined,
    whatever the model's scale. Labels are not needed; when ``data`` is a frame with
    ``is_fraud`` / ``amount`` / ``timestamp``, the expected metrics are filled in.

    Parameters
    ----------
    data:
        Validation scores (an array) or a scored frame.
    review_rate, decline_rate:
        Largest shares flagged and declined; ``decline_rate <= review_rate``.
    cost_model:
        Costs used for the expected ``cost``.
    score_col:
        Score column when ``data`` is a frame.
    curve:
        A :class:`ScoreCurve` already built from these scores (saves a sort).

    Examples
    --------
    >>> import numpy as np
    >>> t = default_thresholds(np.arange(1000) / 1000)
    >>> (t.review, t.decline)
    (0.99, 0.999)
    """
    check_interval("review_rate", review_rate, Interval(0.0, 1.0))
    check_interval("decline_rate", decline_rate, Interval(0.0, 1.0))
    if decline_rate > review_rate:
        raise ConfigError(
            f"decline_rate ({decline_rate:g}) must not exceed review_rate ({review_rate:g}): "
            "declined transactions are a subset of flagged ones"
        )
    cm = cost_model or CostModel()
    if isinstance(data, pl.DataFrame):
        s, y, a, d = _frame_arrays(data, score_col)
    else:
        s, y, a, d = as_scores(data), None, None, None
    if s.size == 0:
        raise ConfigError("cannot choose thresholds from zero scores; pass validation data")
    if curve is None or curve.n != s.size:
        curve = build_curve(s)
    review = float(curve.thresholds[curve.index_at_most_rate(review_rate)])
    decline = float(curve.thresholds[curve.index_at_most_rate(decline_rate)])
    return Thresholds(
        review=review,
        decline=decline,
        objective="default",
        params={
            "review_rate": float(review_rate),
            "decline_rate": float(decline_rate),
            "review_cost": cm.review_cost,
            "decline_friction": cm.decline_friction,
        },
        expected=_outcomes(s, y, a, d, review, decline, cm),
    )


def _cost_indices(curve: ScoreCurve, cm: CostModel) -> tuple[int, int]:
    """Exact minimum of cost over all pairs review <= decline, in O(m).

    cost(i, j) = f(i) + g(j) with f(i) = missed(i) + rc * n_ge(i) and
    g(j) = df * legit_ge(j) - rc * n_ge(j), so the best i for each j is a prefix minimum.
    """
    f = (curve.fraud_amount - curve.amount_ge) + cm.review_cost * curve.n_ge
    g = cm.decline_friction * curve.legit_ge - cm.review_cost * curve.n_ge
    prefix_min = np.minimum.accumulate(f)
    # position of the prefix minimum, preferring the highest threshold among equal costs
    is_min = f <= prefix_min
    arg = np.maximum.accumulate(np.where(is_min, np.arange(f.size), 0))
    total = prefix_min + g
    j = int(total.size - 1 - int(np.argmin(total[::-1])))
    return int(arg[j]), j


def _budget_index(
    curve: ScoreCurve,
    s: npt.NDArray[np.float64],
    days: npt.NDArray[np.int64],
    decline_idx: int,
    max_per_day: int,
    statistic: str,
) -> int:
    """Lowest review index whose reviews per day stay within the budget (binary search)."""
    uniq, inv = np.unique(days, return_inverse=True)
    n_days = int(uniq.size)
    decline = curve.thresholds[decline_idx]

    def within(i: int) -> bool:
        band = (s >= curve.thresholds[i]) & (s < decline)
        if statistic == "mean":
            return float(band.sum()) / n_days <= max_per_day
        return int(np.bincount(inv[band], minlength=n_days).max()) <= max_per_day

    lo, hi = 0, decline_idx  # within(decline_idx) holds: the band is empty
    if within(lo):
        return lo
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if within(mid):
            hi = mid
        else:
            lo = mid
    return hi


def tune_thresholds(
    frame: pl.DataFrame,
    objective: str = "cost",
    *,
    score_col: str = "score",
    **params: Any,
) -> Thresholds:
    """Choose review and decline thresholds on validation data for an objective.

    Objectives (details and formulas in docs/evaluation.md):

    ``cost``
        Minimise missed fraud amount + ``review_cost`` per review + ``decline_friction``
        per declined legitimate transaction, exactly over every pair of distinct scores.
    ``f1``
        ``review`` maximises F1 of flagged transactions; ``decline`` is the lowest threshold
        whose precision reaches ``decline_precision`` (0.9).
    ``precision``
        ``decline`` is the lowest threshold whose precision reaches ``target_precision``
        (0.9), ``review`` the lowest reaching ``review_precision`` (0.3).
    ``alert-budget``
        ``decline`` as for ``f1``; ``review`` is the lowest threshold keeping reviews per day
        (``budget_statistic``: the busiest day ``max``, or the ``mean``) within
        ``max_reviews_per_day`` (100).

    ``review_cost`` (5.0) and ``decline_friction`` (20.0) are accepted by every objective and
    used for the expected cost. When a rule yields ``review > decline``, review is lowered to
    decline (no review band). A target that no threshold reaches gives a threshold just above
    the highest score (nobody flagged by that rule).

    Parameters
    ----------
    frame:
        Validation transactions with ``score``, ``is_fraud``; ``amount`` (cost) and
        ``timestamp`` (alert-budget, per-day figures).
    objective:
        One of :data:`TUNING_OBJECTIVES`.
    score_col:
        Name of the score column.
    **params:
        The objective's parameters, listed above; unknown names are an error.

    Returns
    -------
    Thresholds
        With ``objective``, the resolved ``params`` and the ``expected`` outcomes on ``frame``.

    Raises
    ------
    ConfigError
        Unknown objective or parameter, or a parameter out of range.
    MissingColumnsError
        A column the objective needs is absent.
    """
    check_choice("objective", objective, TUNING_OBJECTIVES)
    resolved = _resolve_params(objective, params)
    needed = [score_col, "is_fraud"]
    if objective == "cost":
        needed.append("amount")
    if objective == "alert-budget":
        needed.append("timestamp")
    require_columns(frame, needed, purpose=f"tuning for objective {objective!r}")
    s, y, a, d = _frame_arrays(frame, score_col)
    assert y is not None  # required above
    if s.size == 0:
        raise ConfigError("cannot tune thresholds on an empty frame; pass validation data")
    if not y.any():
        log.warning("no fraud in the tuning data: thresholds will flag nobody by design")
    cm = CostModel(resolved["review_cost"], resolved["decline_friction"])
    curve = build_curve(s, y, a)
    if objective == "cost":
        i, j = _cost_indices(curve, cm)
    elif objective == "f1":
        j = curve.index_precision(resolved["decline_precision"])
        i = min(curve.index_best_f(1.0), j)
    elif objective == "precision":
        j = curve.index_precision(resolved["target_precision"])
        i = min(curve.index_precision(resolved["review_precision"]), j)
    else:
        assert d is not None
        j = curve.index_precision(resolved["decline_precision"])
        i = _budget_index(
            curve, s, d, j, resolved["max_reviews_per_day"], resolved["budget_statistic"]
        )
    review, decline = float(curve.thresholds[i]), float(curve.thresholds[j])
    thresholds = Thresholds(
        review=review,
        decline=decline,
        objective=objective,
        params=resolved,
        expected=_outcomes(s, y, a, d, review, decline, cm),
    )
    log.debug(
        "tuned thresholds",
        extra={"objective": objective, "review": review, "decline": decline},
    )
    return thresholds
