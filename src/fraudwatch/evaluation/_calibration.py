"""Calibration: the Brier score and a reliability table (predicted vs observed fraud rate)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

from fraudwatch.thresholds._checks import Interval, check_choice, check_interval
from fraudwatch.thresholds._inputs import as_labels, as_scores

__all__ = ["brier_score", "calibration_table", "probability_reason"]


def probability_reason(y_score: npt.ArrayLike) -> str | None:
    """Why scores cannot be read as probabilities, or ``None`` if they can.

    >>> probability_reason([0.2, 1.5])
    'scores are outside [0, 1] (max 1.5): not probabilities'
    """
    s = as_scores(y_score)
    if s.size == 0:
        return "no transactions"
    low, high = float(s.min()), float(s.max())
    if low < 0.0 or high > 1.0:
        worst = low if low < 0.0 else high
        which = "min" if low < 0.0 else "max"
        return f"scores are outside [0, 1] ({which} {worst:g}): not probabilities"
    return None


def brier_score(y_true: npt.ArrayLike, y_score: npt.ArrayLike) -> float | None:
    """Mean squared difference between score and label; lower is better calibrated.

    ``None`` when the scores are not probabilities (outside [0, 1]) or there are none.

    Examples
    --------
    >>> brier_score([0, 1], [0.0, 0.5])
    0.125
    """
    y = as_labels(y_true)
    s = as_scores(y_score)
    if probability_reason(s) is not None:
        return None
    return float(np.mean((s - y) ** 2))


def calibration_table(
    y_true: npt.ArrayLike,
    y_score: npt.ArrayLike,
    n_bins: int = 10,
    strategy: str = "quantile",
) -> pl.DataFrame:
    """Observed fraud rate against mean score in score bins (a reliability diagram's data).

    Parameters
    ----------
    y_true, y_score:
        Labels and scores.
    n_bins:
        Number of bins (fewer when scores have fewer distinct values).
    strategy:
        ``quantile``: bins of (about) equal counts, useful with rare fraud; ``uniform``:
        equal-width bins over [min, max].

    Returns
    -------
    polars.DataFrame
        ``bin``, ``score_low``, ``score_high``, ``n``, ``mean_score``, ``fraud_rate``; only
        non-empty bins.

    Examples
    --------
    >>> t = calibration_table([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], n_bins=2)
    >>> t["fraud_rate"].to_list()
    [0.0, 1.0]
    """
    check_interval("n_bins", n_bins, Interval(1, None, integer=True))
    check_choice("strategy", strategy, ("quantile", "uniform"))
    y = as_labels(y_true)
    s = as_scores(y_score)
    schema = {
        "bin": pl.Int64,
        "score_low": pl.Float64,
        "score_high": pl.Float64,
        "n": pl.Int64,
        "mean_score": pl.Float64,
        "fraud_rate": pl.Float64,
    }
    if s.size == 0:
        return pl.DataFrame(schema=schema)
    if strategy == "quantile":
        edges = np.unique(np.quantile(s, np.linspace(0.0, 1.0, n_bins + 1)))
    else:
        edges = np.linspace(float(s.min()), float(s.max()), n_bins + 1)
        edges = np.unique(edges)
    # bin i holds edges[i] <= s < edges[i+1]; the last bin includes its upper edge
    idx = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, max(edges.size - 2, 0))
    frame = pl.DataFrame({"bin": idx.astype(np.int64), "s": s, "y": y.astype(np.float64)})
    return (
        frame.group_by("bin")
        .agg(
            score_low=pl.col("s").min(),
            score_high=pl.col("s").max(),
            n=pl.len().cast(pl.Int64),
            mean_score=pl.col("s").mean(),
            fraud_rate=pl.col("y").mean(),
        )
        .sort("bin")
        .with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("bin"))
        .select(list(schema))
        .cast(schema)  # type: ignore[arg-type]
    )
