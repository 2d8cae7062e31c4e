"""The feature encoder: frame -> matrix, vocabularies, reserved codes."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudwatch.errors import BundleError, ConfigError, FeatureError
from fraudwatch.models import OTHER, FeatureEncoder


def _frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "amount": [10.0, 20.0, None, 40.0, 50.0, 60.0],
            "count": [1, 2, 3, 4, 5, 6],
            "mcc": ["5411", "5411", "5411", "7995", "7995", None],
            "extra": ["x"] * 6,
        }
    )


def test_vocabulary_by_frequency_and_threshold() -> None:
    """Check that the vocabulary holds frequent values, most frequent first."""
    enc = FeatureEncoder(["amount", "mcc"], ["mcc"], min_frequency=2).fit(_frame())
    assert enc.vocabularies_ == {"mcc": ["5411", "7995"]}


def test_codes_reserved_zero_and_nan() -> None:
    """Check that unseen values map to 0, missing values to NaN, known ones to 1..n."""
    enc = FeatureEncoder(["mcc"], ["mcc"], min_frequency=1).fit(_frame())
    x = enc.transform(pl.DataFrame({"mcc": ["7995", "0000", None]}))
    assert x[0, 0] == 2.0
    assert x[1, 0] == 0.0
    assert math.isnan(x[2, 0])
    assert enc.category_name("mcc", 0.0) == OTHER


def test_columns_in_model_order_extra_ignored() -> None:
    """Check that columns come out in the encoder's order and extra columns are ignored."""
    enc = FeatureEncoder(["count", "amount"]).fit(_frame())
    x = enc.transform(_frame())
    assert x.shape == (6, 2)
    assert x[:, 0].tolist() == [1, 2, 3, 4, 5, 6]
    assert math.isnan(x[2, 1])


@settings(max_examples=40, deadline=None)
@given(
    amount=st.one_of(st.none(), st.floats(-1e9, 1e9)),
    count=st.one_of(st.none(), st.integers(-1000, 1000)),
    mcc=st.one_of(st.none(), st.sampled_from(["5411", "7995", "1234", ""])),
)
def test_row_equals_frame(amount: float | None, count: int | None, mcc: str | None) -> None:
    """Check that transform_row gives the same matrix as a one-row frame."""
    enc = FeatureEncoder(["amount", "count", "mcc"], ["mcc"], min_frequency=1).fit(_frame())
    row = {"amount": amount, "count": count, "mcc": mcc}
    frame = pl.DataFrame([row], schema={"amount": pl.Float64, "count": pl.Int64, "mcc": pl.String})
    np.testing.assert_array_equal(enc.transform_row(row), enc.transform(frame))


def test_round_trip_through_dict() -> None:
    """Check that to_dict/from_dict rebuilds an identical encoder."""
    enc = FeatureEncoder(["amount", "mcc"], ["mcc"], min_frequency=1).fit(_frame())
    again = FeatureEncoder.from_dict(enc.to_dict())
    np.testing.assert_array_equal(again.transform(_frame()), enc.transform(_frame()))


def test_missing_feature_column_named() -> None:
    """Check that a missing feature column is named, with the columns found."""
    enc = FeatureEncoder(["amount", "velocity"]).fit(_frame().with_columns(velocity=pl.lit(1.0)))
    with pytest.raises(FeatureError, match=r"lacks 1 feature.*velocity.*columns found: amount"):
        enc.transform(_frame())


def test_string_in_numeric_feature_refused() -> None:
    """Check that a string column used as a numeric feature is refused with a fix."""
    with pytest.raises(FeatureError, match=r"'extra' must be numeric.*declare it categorical"):
        FeatureEncoder(["extra"]).fit(_frame())


def test_row_missing_feature_refused() -> None:
    """Check that a row lacking a feature is refused, naming it."""
    enc = FeatureEncoder(["amount"]).fit(_frame())
    with pytest.raises(FeatureError, match="'amount' is missing"):
        enc.transform_row({"count": 1})


def test_row_non_number_refused() -> None:
    """Check that a non-numeric value for a numeric feature is refused."""
    enc = FeatureEncoder(["amount"]).fit(_frame())
    with pytest.raises(FeatureError, match="'amount' must be a number; got 'abc'"):
        enc.transform_row({"amount": "abc"})


def test_unknown_categorical_name_refused() -> None:
    """Check that declaring a categorical feature that is not a feature is refused."""
    with pytest.raises(ConfigError, match=r"\['nope'\] are not among the features"):
        FeatureEncoder(["amount"], ["nope"]).fit(_frame())


def test_inconsistent_dict_refused() -> None:
    """Check that a stored encoding whose vocabularies do not match is refused."""
    d = FeatureEncoder(["mcc"], ["mcc"]).fit(_frame()).to_dict()
    d["vocabularies"] = {}
    with pytest.raises(BundleError, match="vocabularies"):
        FeatureEncoder.from_dict(d)
