"""Counts at every candidate threshold, computed once by sorting (no loop over rows).

For each candidate ``t`` (every distinct score, plus one just above the highest score meaning
"nobody") the curve holds how many transactions, frauds and fraud amount have ``score >= t``.
Every threshold metric (precision, recall, cost, alert rate) is then arithmetic on arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["CostModel", "ScoreCurve", "build_curve"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class CostModel:
    """What a decision costs (see docs/evaluation.md, "Cost model").

    - an allowed fraud costs its amount;
    - a review costs ``review_cost`` whatever the outcome, and catches the fraud;
    - a declined legitimate transaction costs ``decline_friction``; a declined fraud costs 0.

    Parameters
    ----------
    review_cost:
        Cost of one analyst review (same currency as ``amount``).
    decline_friction:
        Cost of declining one legitimate transaction (lost sale, support call, churn).

    Examples
    --------
    >>> CostModel(review_cost=5.0, decline_friction=20.0).review_cost
    5.0
    """

    review_cost: float = 5.0
    decline_friction: float = 20.0

    def __post_init__(self) -> None:
        from fraudwatch.thresholds._checks import Interval, check_interval

        check_interval("review_cost", self.review_cost, Interval(0, None))
        check_interval("decline_friction", self.decline_friction, Interval(0, None))
        object.__setattr__(self, "review_cost", float(self.review_cost))
        object.__setattr__(self, "decline_friction", float(self.decline_friction))

    def total(
        self,
        y_score: npt.ArrayLike,
        y_true: npt.ArrayLike,
        amount: npt.ArrayLike,
        review: float,
        decline: float,
    ) -> float:
        """Total cost of thresholding ``y_score`` at (``review``, ``decline``).

        >>> CostModel(5.0, 20.0).total([0.1, 0.5, 0.9], [1, 0, 0], [100.0, 10.0, 10.0], 0.4, 0.8)
        125.0
        """
        s = np.asarray(y_score, dtype=np.float64)
        y = np.asarray(y_true).astype(bool)
        a = np.asarray(amount, dtype=np.float64)
        declined = s >= decline
        reviewed = (s >= review) & ~declined
        missed = y & (s < review)
        return float(
            a[missed].sum()
            + self.review_cost * reviewed.sum()
            + self.decline_friction * (declined & ~y).sum()
        )


@dataclass(frozen=True)
class ScoreCurve:
    """Cumulative counts at candidate thresholds (ascending).

    Attributes
    ----------
    thresholds:
        Distinct scores ascending, then a sentinel just above the highest ("flag nobody").
    n_ge, fraud_ge:
        Transactions / frauds with ``score >= threshold``.
    amount_ge:
        Fraud amount with ``score >= threshold`` (zeros when no amount was given).
    n, n_fraud, fraud_amount:
        Totals.
    """

    thresholds: FloatArray
    n_ge: IntArray
    fraud_ge: IntArray
    amount_ge: FloatArray
    n: int
    n_fraud: int
    fraud_amount: float

    @property
    def legit_ge(self) -> IntArray:
        """Legitimate transactions with ``score >= threshold``."""
        return self.n_ge - self.fraud_ge

    def cost(
        self,
        review_idx: npt.ArrayLike,
        decline_idx: npt.ArrayLike,
        cost_model: CostModel,
    ) -> FloatArray:
        """Total cost at thresholds ``(thresholds[review_idx], thresholds[decline_idx])``.

        Indices broadcast; each review index must not exceed its decline index.
        """
        i = np.asarray(review_idx, dtype=np.int64)
        j = np.asarray(decline_idx, dtype=np.int64)
        missed = self.fraud_amount - self.amount_ge[i]
        reviews = self.n_ge[i] - self.n_ge[j]
        declined_legit = self.n_ge[j] - self.fraud_ge[j]
        out = (
            missed + cost_model.review_cost * reviews + cost_model.decline_friction * declined_legit
        )
        return np.asarray(out, dtype=np.float64)

    def index_of(self, threshold: float) -> int:
        """Index of the lowest candidate ``>= threshold`` (same rows flagged as ``threshold``)."""
        idx = int(np.searchsorted(self.thresholds, threshold, side="left"))
        return min(idx, len(self.thresholds) - 1)

    def index_at_most_rate(self, rate: float) -> int:
        """Index of the lowest threshold flagging at most ``rate`` of all transactions."""
        ok = np.flatnonzero(self.n_ge <= rate * self.n)
        return int(ok[0])  # the sentinel (0 flagged) always qualifies

    def index_precision(self, target: float) -> int:
        """Index of the lowest threshold whose precision reaches ``target``; sentinel if none."""
        with np.errstate(divide="ignore", invalid="ignore"):
            prec = np.where(self.n_ge > 0, self.fraud_ge / np.maximum(self.n_ge, 1), -1.0)
        ok = np.flatnonzero(prec >= target)
        return int(ok[0]) if ok.size else len(self.thresholds) - 1

    def index_best_f(self, beta: float = 1.0) -> int:
        """Index of the threshold maximising F-beta of ``score >= t`` (highest on ties)."""
        b2 = beta * beta
        denom = self.n_ge + b2 * self.n_fraud
        f = np.where(denom > 0, (1 + b2) * self.fraud_ge / np.maximum(denom, 1), 0.0)
        rev = f[::-1]
        return int(len(f) - 1 - int(np.argmax(rev)))


def build_curve(
    y_score: FloatArray,
    y_true: npt.NDArray[np.bool_] | None = None,
    amount: FloatArray | None = None,
) -> ScoreCurve:
    """Build a :class:`ScoreCurve` in O(n log n).

    Parameters
    ----------
    y_score:
        Finite scores.
    y_true:
        Boolean labels; ``None`` gives zero fraud counts.
    amount:
        Transaction amounts; ``None`` gives zero amounts.
    """
    n = int(y_score.size)
    order = np.argsort(y_score)
    s_sorted = y_score[order]
    if n:
        # distinct values of a sorted array (and where each starts) without sorting again
        first = np.flatnonzero(np.concatenate(([True], s_sorted[1:] != s_sorted[:-1])))
        uniq = s_sorted[first]
        sentinel = float(np.nextafter(uniq[-1], np.inf))
    else:
        first = np.empty(0, dtype=np.int64)
        uniq = np.empty(0, dtype=np.float64)
        sentinel = 1.0
    thresholds = np.append(uniq, sentinel).astype(np.float64)
    below = np.append(first, n)  # rows scoring below each candidate
    n_ge = (n - below).astype(np.int64)
    if y_true is None:
        fraud_ge = np.zeros_like(n_ge)
        amount_ge = np.zeros(thresholds.size, dtype=np.float64)
        n_fraud = 0
        fraud_amount = 0.0
    else:
        y_sorted = y_true[order]
        # cumulative frauds from the top: fraud_ge[j] = frauds among s_sorted[below[j]:]
        fraud_cum = np.concatenate(([0], np.cumsum(y_sorted, dtype=np.int64)))
        n_fraud = int(fraud_cum[-1])
        fraud_ge = (n_fraud - fraud_cum[below]).astype(np.int64)
        if amount is None:
            amount_ge = np.zeros(thresholds.size, dtype=np.float64)
            fraud_amount = 0.0
        else:
            fa = np.where(y_sorted, amount[order], 0.0)
            amount_cum = np.concatenate(([0.0], np.cumsum(fa)))
            fraud_amount = float(amount_cum[-1])
            amount_ge = np.maximum(fraud_amount - amount_cum[below], 0.0)
    return ScoreCurve(
        thresholds=thresholds,
        n_ge=n_ge,
        fraud_ge=fraud_ge,
        amount_ge=amount_ge,
        n=n,
        n_fraud=n_fraud,
        fraud_amount=fraud_amount,
    )
