"""The feature encoder: frame -> matrix, vocabularies, reserved codes."""

from __future__ import annotations

import math
from collections import defaultdict
from types import MappingProxyType
from typing import Any

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


_DTYPES: dict[str, Any] = {
    "float": pl.Float64,
    "int": pl.Int64,
    "bool": pl.Boolean,
    "category": pl.String,
}
_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "float": st.floats(width=64),
    "int": st.integers(-(2**63), 2**63 - 1),
    "bool": st.booleans(),
    "category": st.one_of(st.sampled_from(["pos", "ecom", "atm", "5411", ""]), st.text(max_size=4)),
}
_TRAIN_WORDS = ["pos", "ecom", "pos", "5411"]


@st.composite
def _layout_and_row(draw: st.DrawFn) -> tuple[dict[str, str], dict[str, Any]]:
    """({feature: kind}, a row of values for them, ``None`` included)."""
    kinds = draw(st.lists(st.sampled_from(sorted(_DTYPES)), min_size=1, max_size=12))
    layout = {f"{kind}_{i}": kind for i, kind in enumerate(kinds)}
    row = {name: draw(st.one_of(st.none(), _VALUES[kind])) for name, kind in layout.items()}
    return layout, row


@settings(max_examples=200, deadline=None)
@given(layout_and_row=_layout_and_row())
def test_row_equals_batch_for_any_layout(
    layout_and_row: tuple[dict[str, str], dict[str, Any]],
) -> None:
    """Check that transform_row equals the batch transform for random columns and values."""
    layout, row = layout_and_row
    schema = {name: _DTYPES[kind] for name, kind in layout.items()}
    train = pl.DataFrame(
        {n: _TRAIN_WORDS if k == "category" else [None] * 4 for n, k in layout.items()},
        schema=schema,
    )
    cats = [n for n, k in layout.items() if k == "category"]
    enc = FeatureEncoder(list(layout), cats, min_frequency=1).fit(train)
    expected = enc.transform(pl.DataFrame([row], schema=schema))
    np.testing.assert_array_equal(enc.transform_row(row), expected)
    other_mapping = MappingProxyType({**row, "extra": object()})
    np.testing.assert_array_equal(enc.transform_row(other_mapping), expected)


def test_row_first_problem_in_model_order_refused() -> None:
    """Check that a row with several problems is refused for the first one in model order."""
    enc = FeatureEncoder(["amount", "count", "mcc"], ["mcc"], min_frequency=1).fit(_frame())
    with pytest.raises(FeatureError, match="'amount' must be a number; got 'abc'"):
        enc.transform_row({"amount": "abc", "mcc": "5411"})  # count is missing too
    with pytest.raises(FeatureError, match="'amount' is missing"):
        enc.transform_row({"count": "abc", "mcc": "5411"})


def test_row_mapping_inventing_values_refused() -> None:
    """Check that a feature absent from a defaultdict is refused, not invented by indexing."""
    enc = FeatureEncoder(["amount", "count"]).fit(_frame())
    row: defaultdict[str, float] = defaultdict(float, {"amount": 1.0})
    with pytest.raises(FeatureError, match="'count' is missing"):
        enc.transform_row(row)
    assert "count" not in row


def test_row_follows_a_refit() -> None:
    """Check that after a second fit transform_row uses the new vocabulary, like transform."""
    enc = FeatureEncoder(["mcc"], ["mcc"], min_frequency=1).fit(_frame())
    assert enc.transform_row({"mcc": "7995"}).tolist() == [[2.0]]
    enc.fit(pl.DataFrame({"mcc": ["7995", "7995", "0000"]}))
    expected = enc.transform(pl.DataFrame({"mcc": ["7995"]}))
    np.testing.assert_array_equal(enc.transform_row({"mcc": "7995"}), expected)


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
