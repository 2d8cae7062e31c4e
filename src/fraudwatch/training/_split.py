"""Splitting labelled transactions by time: train, a label-delay gap, validation.

Never a random split: fraud patterns drift and a card's transactions are correlated, so a
model is validated on transactions later than every training row, and the gap of one label
delay mimics production, where the most recent frauds are not yet reported when the model is
trained.

Standard split (span long enough)::

    |-------- train --------|-- gap (label delay) --|-- validation (last 20 %) --|

Adaptive split (``train`` would be shorter than ``min_train``, e.g. the handbook's protocol
trains on one week)::

    |------------- train -------------|-- validation (last 20 %, no gap) --|
    then refit on all rows with the number of rounds chosen on the validation part.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from fraudwatch.errors import ConfigError, DataValidationError

__all__ = ["TimeSplit", "time_split"]

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _to_datetime(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(us))


def _days(td: timedelta) -> str:
    return f"{td.total_seconds() / 86400:.3g} day(s)"


@dataclass(frozen=True)
class TimeSplit:
    """Which rows train, which wait out the label delay, which validate.

    Attributes
    ----------
    train, gap, validation:
        Boolean masks over the input rows (disjoint, covering every row).
    train_start, train_end:
        Time range of training rows, ``[train_start, train_end)``.
    validation_start, validation_end:
        Time range of validation rows, ``[validation_start, validation_end]``.
    label_delay:
        The requested gap.
    adaptive:
        Whether the span was too short for train + gap + validation (no gap then).
    refit:
        Whether the final model should be refit on all rows with the chosen rounds.
    reason:
        One sentence saying what was done and why.
    """

    train: npt.NDArray[np.bool_]
    gap: npt.NDArray[np.bool_]
    validation: npt.NDArray[np.bool_]
    train_start: datetime
    train_end: datetime
    validation_start: datetime
    validation_end: datetime
    label_delay: timedelta
    adaptive: bool
    refit: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (for the manifest)."""
        return {
            "policy": "adaptive" if self.adaptive else "standard",
            "train": {
                "start": self.train_start.isoformat(),
                "end": self.train_end.isoformat(),
                "rows": int(self.train.sum()),
            },
            "gap": {
                "rows": int(self.gap.sum()),
                "label_delay_days": self.label_delay / timedelta(days=1),
            },
            "validation": {
                "start": self.validation_start.isoformat(),
                "end": self.validation_end.isoformat(),
                "rows": int(self.validation.sum()),
            },
            "refit_on_all_rows": self.refit,
            "reason": self.reason,
        }


def _as_microseconds(timestamps: pl.Series | npt.ArrayLike) -> npt.NDArray[np.int64]:
    if isinstance(timestamps, pl.Series):
        if not isinstance(timestamps.dtype, pl.Datetime):
            raise DataValidationError(
                f"timestamps must be a Datetime column; got {timestamps.dtype}"
            )
        if timestamps.null_count():
            raise DataValidationError(
                f"{timestamps.null_count()} timestamp(s) are missing; drop or fix those rows"
            )
        if timestamps.dtype.time_zone is None:
            raise DataValidationError(
                "timestamps must be timezone-aware (UTC); read the file with a profile that "
                "sets the zone"
            )
        return np.asarray(timestamps.dt.epoch("us").to_numpy(), dtype=np.int64)
    arr = np.asarray(timestamps)
    if np.issubdtype(arr.dtype, np.datetime64):
        return arr.astype("datetime64[us]").astype(np.int64)
    raise DataValidationError(
        "timestamps must be a polars Datetime series or a numpy datetime64 array"
    )


def time_split(
    timestamps: pl.Series | npt.ArrayLike,
    label_delay: timedelta,
    *,
    validation_fraction: float = 0.2,
    min_train: timedelta = timedelta(days=7),
    refit: bool | None = None,
) -> TimeSplit:
    """Split rows by time into train, a label-delay gap and validation.

    Parameters
    ----------
    timestamps:
        One timestamp per row (any order).
    label_delay:
        How long after a transaction its label is known; the gap between train and
        validation.
    validation_fraction:
        Share of the time span (not of the rows) used for validation, at the end.
    min_train:
        Shortest training period for the standard split; below it the split adapts: no gap,
        and a refit on all rows.
    refit:
        Force (``True``) or forbid (``False``) the final refit on all rows; ``None`` refits
        only for the adaptive split.

    Returns
    -------
    TimeSplit
        The masks, the boundaries and the reason, also logged.

    Raises
    ------
    ConfigError
        A parameter is out of range.
    DataValidationError
        Fewer than two distinct timestamps.

    Examples
    --------
    >>> import numpy as np
    >>> ts = np.arange("2024-01-01", "2024-02-01", dtype="datetime64[D]")
    >>> s = time_split(ts, timedelta(days=7))
    >>> s.adaptive, int(s.train.sum()), int(s.gap.sum()), int(s.validation.sum())
    (False, 17, 7, 7)
    """
    if not 0.0 < validation_fraction < 1.0:
        raise ConfigError(
            f"validation_fraction must be in (0, 1) (a share of the time span); "
            f"got {validation_fraction!r}"
        )
    if label_delay < timedelta(0):
        raise ConfigError(f"label_delay must be zero or positive; got {label_delay}")
    if min_train <= timedelta(0):
        raise ConfigError(f"min_train must be positive; got {min_train}")
    t = _as_microseconds(timestamps)
    if t.size < 2 or t.min() == t.max():
        raise DataValidationError(
            f"cannot split {t.size} row(s) by time: at least two distinct timestamps are "
            "needed; train on a longer period"
        )
    t_min, t_max = int(t.min()), int(t.max())
    span_us = t_max - t_min
    delay_us = int(label_delay / timedelta(microseconds=1))
    valid_us = round(span_us * validation_fraction)
    valid_start = t_max - valid_us
    train_end = valid_start - delay_us
    span = timedelta(microseconds=span_us)
    if train_end - t_min >= int(min_train / timedelta(microseconds=1)):
        adaptive = False
        train = t < train_end
        validation = t >= valid_start
        gap = ~train & ~validation
        reason = (
            f"standard split: train {_days(timedelta(microseconds=train_end - t_min))}, "
            f"gap {_days(label_delay)} (label delay), validation "
            f"{_days(timedelta(microseconds=valid_us))} (last {validation_fraction:.0%} by time)"
        )
    else:
        adaptive = True
        train_end = valid_start
        train = t < valid_start
        validation = ~train
        gap = np.zeros(t.size, dtype=bool)
        reason = (
            f"the data span {_days(span)} is too short for train (at least {_days(min_train)}) "
            f"+ label-delay gap ({_days(label_delay)}) + validation; adaptive split: early "
            f"stopping on the last {validation_fraction:.0%} by time "
            f"(from {_to_datetime(valid_start).isoformat()}) without a gap"
        )
    do_refit = adaptive if refit is None else refit
    if do_refit:
        reason += ", then a refit on all rows with the chosen number of rounds"
    if not train.any() or not validation.any():
        raise DataValidationError(
            f"the time split left {int(train.sum())} training and {int(validation.sum())} "
            "validation rows; train on a longer period"
        )
    split = TimeSplit(
        train=train,
        gap=gap,
        validation=validation,
        train_start=_to_datetime(t_min),
        train_end=_to_datetime(train_end),
        validation_start=_to_datetime(valid_start),
        validation_end=_to_datetime(t_max),
        label_delay=label_delay,
        adaptive=adaptive,
        refit=do_refit,
        reason=reason,
    )
    (log.warning if adaptive else log.info)("time split: %s", reason)
    return split
