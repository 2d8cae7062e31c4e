"""Business metrics at thresholds: fraud amount caught, expected cost, recall per scenario."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

from fraudwatch.thresholds import CostModel, ScoreCurve, Thresholds, build_curve
from fraudwatch.thresholds._inputs import (
    as_labels,
    as_scores,
    extract_amount,
    extract_labels,
    extract_scores,
    require_columns,
)

__all__ = [
    "cost_curve",
    "expected_cost",
    "fraud_amount_caught_share",
    "recall_per_scenario",
]


def fraud_amount_caught_share(
    y_true: npt.ArrayLike, y_score: npt.ArrayLike, amount: npt.ArrayLike, threshold: float
) -> float | None:
    """Share of the fraud amount whose transactions score at or above ``threshold``.

    ``None`` when there is no fraud amount.

    Examples
    --------
    >>> fraud_amount_caught_share([1, 1, 0], [0.9, 0.2, 0.8], [30.0, 10.0, 5.0], 0.5)
    0.75
    """
    y = as_labels(y_true)
    s = as_scores(y_score)
    a = np.asarray(amount, dtype=np.float64)
    total = float(a[y].sum())
    if total <= 0.0:
        return None
    return float(a[y & (s >= threshold)].sum()) / total


def expected_cost(
    y_true: npt.ArrayLike,
    y_score: npt.ArrayLike,
    amount: npt.ArrayLike,
    thresholds: Thresholds,
    cost_model: CostModel | None = None,
) -> float:
    """Total cost of deciding with ``thresholds`` under the cost model (docs/evaluation.md).

    Examples
    --------
    >>> t = Thresholds(review=0.4, decline=0.8)
    >>> expected_cost([1, 0, 0], [0.1, 0.5, 0.9], [100.0, 10.0, 10.0], t)
    125.0
    """
    cm = cost_model or CostModel()
    return cm.total(
        as_scores(y_score), as_labels(y_true), amount, thresholds.review, thresholds.decline
    )


def recall_per_scenario(
    frame: pl.DataFrame,
    thresholds: Thresholds,
    *,
    score_col: str = "score",
    scenario_col: str = "fraud_scenario",
) -> pl.DataFrame:
    """Recall of each fraud scenario at the thresholds.

    Returns one row per scenario of the fraud rows (``legit`` and nulls are not scenarios):
    ``scenario``, ``n_fraud``, ``recall`` (flagged: reviewed or declined), ``decline_recall``,
    ``amount_caught_share`` (when ``amount`` is present), sorted by ``n_fraud`` descending.
    """
    require_columns(frame, [scenario_col, "is_fraud", score_col], purpose="recall per scenario")
    table = pl.DataFrame(
        {
            "scenario": frame.get_column(scenario_col).cast(pl.String),
            "y": extract_labels(frame),
            "s": extract_scores(frame, score_col),
            "a": extract_amount(frame) if "amount" in frame.columns else np.zeros(frame.height),
        }
    ).filter(pl.col("y") & pl.col("scenario").is_not_null() & (pl.col("scenario") != "legit"))
    flagged = pl.col("s") >= thresholds.review
    declined = pl.col("s") >= thresholds.decline
    out = (
        table.group_by("scenario")
        .agg(
            n_fraud=pl.len().cast(pl.Int64),
            recall=flagged.mean(),
            decline_recall=declined.mean(),
            amount_caught_share=pl.col("a").filter(flagged).sum()
            / pl.when(pl.col("a").sum() > 0).then(pl.col("a").sum()).otherwise(None),
        )
        .sort(["n_fraud", "scenario"], descending=[True, False])
    )
    if "amount" not in frame.columns:
        out = out.with_columns(pl.lit(None, dtype=pl.Float64).alias("amount_caught_share"))
    return out.with_columns(
        pl.col("recall").cast(pl.Float64), pl.col("decline_recall").cast(pl.Float64)
    )


def cost_curve(
    frame: pl.DataFrame,
    thresholds: Thresholds,
    cost_model: CostModel | None = None,
    *,
    max_points: int = 300,
    score_col: str = "score",
    curve: ScoreCurve | None = None,
) -> pl.DataFrame:
    """Cost as one threshold moves while the other stays where ``thresholds`` put it.

    Returns ``threshold``, ``cost_moving_review`` (review = threshold, decline fixed; only for
    thresholds <= decline) and ``cost_moving_decline`` (decline = threshold, review fixed; only
    for thresholds >= review), on at most ``max_points`` thresholds spread over the score
    quantiles plus the two chosen thresholds. The minimum of each line shows whether the
    chosen threshold is locally optimal. ``curve`` reuses a :class:`ScoreCurve` already built
    from the same frame (with labels and amounts).
    """
    require_columns(frame, [score_col, "is_fraud", "amount"], purpose="the cost curve")
    cm = cost_model or CostModel()
    if curve is None:
        s = extract_scores(frame, score_col)
        curve = build_curve(s, extract_labels(frame), extract_amount(frame))
    m = curve.thresholds.size
    picks = np.unique(np.linspace(0, m - 1, min(max_points, m)).round().astype(np.int64))
    i_r, j_d = curve.index_of(thresholds.review), curve.index_of(thresholds.decline)
    picks = np.unique(np.concatenate((picks, [i_r, j_d])))
    review_line = np.where(picks <= j_d, curve.cost(np.minimum(picks, j_d), j_d, cm), np.nan)
    decline_line = np.where(picks >= i_r, curve.cost(i_r, np.maximum(picks, i_r), cm), np.nan)
    return pl.DataFrame(
        {
            "threshold": curve.thresholds[picks],
            "cost_moving_review": review_line,
            "cost_moving_decline": decline_line,
        }
    ).with_columns(pl.col("cost_moving_review", "cost_moving_decline").fill_nan(None))
