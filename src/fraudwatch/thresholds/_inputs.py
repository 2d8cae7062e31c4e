"""Validation and extraction of a scored frame into numpy arrays.

A *scored frame* is a polars DataFrame of transactions with a ``score`` column (higher = more
suspicious) and, depending on the metric, ``is_fraud`` (0/1), ``amount``, ``timestamp``,
``card_id`` and ``fraud_scenario``. Shared by :mod:`fraudwatch.thresholds` and
:mod:`fraudwatch.evaluation`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import polars as pl

from fraudwatch.errors import DataValidationError, MissingColumnsError

__all__ = [
    "as_labels",
    "as_scores",
    "day_codes",
    "extract_amount",
    "extract_labels",
    "extract_scores",
    "require_columns",
]


def require_columns(frame: pl.DataFrame, columns: Sequence[str], *, purpose: str) -> None:
    """Raise :class:`MissingColumnsError` naming the columns ``purpose`` needs."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise MissingColumnsError(
            missing,
            frame.columns,
            source="the scored frame",
            hint=f"{purpose} needs columns {', '.join(columns)}",
        )


def _first_bad_row(mask: npt.NDArray[np.bool_]) -> int:
    return int(np.flatnonzero(mask)[0]) + 1


def as_scores(values: npt.ArrayLike, name: str = "score") -> npt.NDArray[np.float64]:
    """Scores as finite float64; :class:`DataValidationError` names the first bad row."""
    arr = np.asarray(values, dtype=np.float64).ravel()
    bad = ~np.isfinite(arr)
    if bad.any():
        raise DataValidationError(
            f"{name} has {int(bad.sum())} missing or non-finite value(s); "
            "score every transaction before evaluating (higher = more suspicious)",
            row=_first_bad_row(bad),
        )
    return arr


def as_labels(values: npt.ArrayLike, name: str = "is_fraud") -> npt.NDArray[np.bool_]:
    """Labels 0/1 (or booleans) as a boolean array; anything else is an error."""
    raw = np.asarray(values)
    if raw.dtype == np.bool_:
        return raw.ravel()
    try:
        arr = raw.astype(np.float64).ravel()
    except (TypeError, ValueError):
        raise DataValidationError(
            f"{name} must hold 0 (legitimate) or 1 (fraud); got values of type {raw.dtype}"
        ) from None
    bad = ~np.isin(arr, (0.0, 1.0))
    if bad.any():
        example = arr[bad][0]
        raise DataValidationError(
            f"{name} must be 0 (legitimate) or 1 (fraud); found {int(bad.sum())} other "
            f"value(s), e.g. {float(example)!r}; fix or drop unlabelled rows",
            row=_first_bad_row(bad),
        )
    return np.asarray(arr == 1.0, dtype=np.bool_)


def extract_scores(frame: pl.DataFrame, score_col: str = "score") -> npt.NDArray[np.float64]:
    """The score column as finite float64."""
    require_columns(frame, [score_col], purpose="scoring metrics")
    return as_scores(frame.get_column(score_col).cast(pl.Float64).to_numpy(), score_col)


def extract_labels(frame: pl.DataFrame, label_col: str = "is_fraud") -> npt.NDArray[np.bool_]:
    """The label column as booleans (nulls are an error)."""
    require_columns(frame, [label_col], purpose="label-based metrics")
    col = frame.get_column(label_col)
    if col.null_count():
        bad = col.is_null().to_numpy()
        raise DataValidationError(
            f"{label_col} has {col.null_count()} missing value(s); evaluate labelled rows only",
            row=_first_bad_row(bad),
        )
    return as_labels(col.cast(pl.Float64).to_numpy(), label_col)


def extract_amount(frame: pl.DataFrame, amount_col: str = "amount") -> npt.NDArray[np.float64]:
    """The amount column as non-negative finite float64."""
    require_columns(frame, [amount_col], purpose="amount-based metrics (cost, amount caught)")
    arr = np.asarray(frame.get_column(amount_col).cast(pl.Float64).to_numpy(), dtype=np.float64)
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        raise DataValidationError(
            f"{amount_col} has {int(bad.sum())} missing, negative or non-finite value(s); "
            "amounts must be >= 0",
            row=_first_bad_row(bad),
        )
    return arr


def day_codes(frame: pl.DataFrame, time_col: str = "timestamp") -> npt.NDArray[np.int64]:
    """Calendar day of each row (days since 1970-01-01, in the column's time zone)."""
    require_columns(frame, [time_col], purpose="per-day metrics")
    col = frame.get_column(time_col)
    if not isinstance(col.dtype, pl.Datetime | pl.Date):
        raise DataValidationError(
            f"{time_col} must be a datetime column; got {col.dtype}. Load the file with "
            "fraudwatch's readers, which parse timestamps"
        )
    if col.null_count():
        raise DataValidationError(
            f"{time_col} has {col.null_count()} missing value(s); every transaction needs a time",
            row=_first_bad_row(col.is_null().to_numpy()),
        )
    days = col.dt.date() if isinstance(col.dtype, pl.Datetime) else col
    return np.asarray(days.to_physical().cast(pl.Int64).to_numpy(), dtype=np.int64)
