"""Turn per-transaction feature contributions into ranked, human-readable reasons.

A contribution is how much a feature pushed one transaction's raw score (log-odds) up or down.
For tree models it is, by default, the sum of the changes of node value at the splits on that
feature along the transaction's path through each tree (``explainer="path"``), or its
TreeSHAP value (``explainer="shap"``); for logistic regression, coefficient x standardised
value. The reasons of a transaction are its features with the largest positive
contributions, each rendered with the feature set's phrase ("amount 8.2x the card's 30-day
average").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Reason", "top_reasons", "top_reasons_batch"]

PhraseFn = Callable[[str, Any], str]


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason behind a score.

    Attributes
    ----------
    feature:
        Feature name, as in the model's feature set.
    value:
        The feature's value for this transaction.
    contribution:
        Its contribution to the raw score (log-odds); positive means more suspicious.
    phrase:
        A sentence an analyst reads.
    """

    feature: str
    value: float | str | None
    contribution: float
    phrase: str

    def to_dict(self) -> dict[str, Any]:
        """Return the reason as a JSON-ready dict."""
        return {
            "feature": self.feature,
            "value": self.value,
            "contribution": self.contribution,
            "phrase": self.phrase,
        }


def _clean(value: Any) -> float | str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    f = float(value)
    return None if f != f else f  # NaN -> None


def top_reasons(
    contributions: npt.NDArray[np.float64],
    names: Sequence[str],
    values: Sequence[Any],
    phrase: PhraseFn,
    k: int = 3,
) -> list[Reason]:
    """Return up to ``k`` reasons for one transaction, most suspicious first.

    Parameters
    ----------
    contributions:
        One value per feature (a trailing bias term, if present, must be removed).
    names:
        Feature names, in the same order.
    values:
        Feature values, in the same order.
    phrase:
        ``phrase(name, value) -> str``, usually ``FeatureSet.phrase``.
    k:
        How many reasons at most. Only positive contributions are reasons.

    Examples
    --------
    >>> top_reasons(np.array([0.1, 2.0, -1.0]), ["a", "b", "c"], [1, 2, 3],
    ...             lambda n, v: f"{n}={v}", k=2)[0].phrase
    'b=2.0'
    """
    if len(contributions) != len(names):
        raise ValueError(
            f"{len(contributions)} contributions for {len(names)} features; "
            "drop the bias column before calling top_reasons"
        )
    order = np.argsort(-contributions, kind="stable")[:k]
    out: list[Reason] = []
    for j in order:
        c = float(contributions[j])
        if not c > 0.0:
            break
        v = _clean(values[j])
        out.append(Reason(names[j], v, c, phrase(names[j], v)))
    return out


def top_reasons_batch(
    contributions: npt.NDArray[np.float64],
    names: Sequence[str],
    columns: Sequence[Sequence[Any]],
    phrase: PhraseFn,
    k: int = 3,
) -> list[list[Reason]]:
    """Return the reasons of many transactions at once.

    Parameters
    ----------
    contributions:
        Matrix ``(n_rows, n_features)`` without the bias column.
    names:
        Feature names.
    columns:
        Feature values column by column (``columns[j][i]`` is feature ``j`` of row ``i``).
    phrase:
        ``phrase(name, value) -> str``.
    k:
        Reasons per row at most.
    """
    n, f = contributions.shape
    if f != len(names):
        raise ValueError(f"{f} contribution columns for {len(names)} features")
    if n == 0:
        return []
    kk = min(k, f)
    # top-k per row without a full sort: argpartition, then order those k
    part = np.argpartition(-contributions, kk - 1, axis=1)[:, :kk]
    part_vals = np.take_along_axis(contributions, part, axis=1)
    order = np.argsort(-part_vals, axis=1, kind="stable")
    idx = np.take_along_axis(part, order, axis=1)
    vals = np.take_along_axis(part_vals, order, axis=1)
    out: list[list[Reason]] = []
    for i in range(n):
        row: list[Reason] = []
        for j, c in zip(idx[i], vals[i], strict=True):
            if not c > 0.0:
                break
            v = _clean(columns[j][i])
            row.append(Reason(names[j], v, float(c), phrase(names[j], v)))
        out.append(row)
    return out
