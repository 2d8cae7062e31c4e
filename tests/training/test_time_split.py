"""The time split: train, label-delay gap, validation; adaptive when the span is short."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudwatch.errors import ConfigError, DataValidationError
from fraudwatch.training import time_split


def _days(n: int, start: datetime = datetime(2024, 1, 1, tzinfo=UTC)) -> pl.Series:
    return pl.Series("timestamp", [start + timedelta(hours=6 * i) for i in range(n * 4)])


@settings(max_examples=60, deadline=None)
@given(
    offsets=st.lists(st.integers(0, 90 * 86400), min_size=2, max_size=300),
    delay_days=st.integers(0, 14),
    fraction=st.floats(0.05, 0.5),
)
def test_parts_are_ordered_disjoint_and_cover(
    offsets: list[int], delay_days: int, fraction: float
) -> None:
    """Check that every training row precedes every gap row, which precede validation rows."""
    if min(offsets) == max(offsets):
        offsets = [*offsets, max(offsets) + 1]
    ts = np.array(offsets, dtype="datetime64[s]")
    split = time_split(ts, timedelta(days=delay_days), validation_fraction=fraction)
    t = ts.astype(np.int64)
    parts = split.train.astype(int) + split.gap.astype(int) + split.validation.astype(int)
    assert (parts == 1).all()
    assert t[split.train].max() < t[split.validation].min()
    if split.gap.any():
        assert t[split.train].max() < t[split.gap].min()
        assert t[split.gap].max() < t[split.validation].min()
    if not split.adaptive:
        gap = split.validation_start - split.train_end
        assert gap == timedelta(days=delay_days)


def test_standard_split_keeps_a_gap_of_the_label_delay() -> None:
    """Check that a long span gets train, a 7-day gap and validation, without refit."""
    split = time_split(_days(60), timedelta(days=7))
    assert not split.adaptive
    assert not split.refit
    assert split.gap.any()
    assert split.validation_start - split.train_end == timedelta(days=7)


def test_short_span_adapts_and_logs_what_it_did(training_log: pytest.LogCaptureFixture) -> None:
    """Check that a 10-day span drops the gap, plans a refit, and says so in the log."""
    split = time_split(_days(10), timedelta(days=7))
    assert split.adaptive
    assert split.refit
    assert not split.gap.any()
    text = training_log.text
    assert "too short" in text
    assert "without a gap" in text
    assert "refit on all rows" in text


def test_refit_can_be_forced_on_a_standard_split() -> None:
    """Check that refit=True refits even when the span was long enough."""
    split = time_split(_days(60), timedelta(days=7), refit=True)
    assert split.refit
    assert not split.adaptive
    assert "refit" in split.reason


def test_order_of_rows_does_not_matter() -> None:
    """Check that shuffled timestamps get the same assignment, row by row."""
    ts = _days(40)
    perm = np.random.default_rng(0).permutation(ts.len())
    a = time_split(ts, timedelta(days=3))
    b = time_split(ts.gather(perm), timedelta(days=3))
    np.testing.assert_array_equal(a.validation[perm], b.validation)


def test_summary_dict_counts_rows() -> None:
    """Check that the manifest summary counts the rows of each part."""
    split = time_split(_days(60), timedelta(days=7))
    d = split.to_dict()
    total = d["train"]["rows"] + d["gap"]["rows"] + d["validation"]["rows"]
    assert total == 240
    assert d["policy"] == "standard"


def test_single_timestamp_refused() -> None:
    """Check that data with one distinct timestamp cannot be split."""
    ts = pl.Series([datetime(2024, 1, 1, tzinfo=UTC)] * 5)
    with pytest.raises(DataValidationError, match="two distinct timestamps"):
        time_split(ts, timedelta(days=7))


def test_naive_timestamps_refused() -> None:
    """Check that timestamps without a zone are refused."""
    ts = pl.Series([datetime(2024, 1, 1), datetime(2024, 1, 9)])
    with pytest.raises(DataValidationError, match="timezone-aware"):
        time_split(ts, timedelta(days=1))


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.5])
def test_bad_validation_fraction_refused(fraction: float) -> None:
    """Check that a validation fraction outside (0, 1) is refused."""
    with pytest.raises(ConfigError, match="validation_fraction must be in"):
        time_split(_days(20), timedelta(days=1), validation_fraction=fraction)


def test_negative_delay_refused() -> None:
    """Check that a negative label delay is refused."""
    with pytest.raises(ConfigError, match="label_delay"):
        time_split(_days(20), timedelta(days=-1))
