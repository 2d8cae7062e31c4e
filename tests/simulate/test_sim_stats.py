"""Tests of scenario_stats."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudwatch.errors import MissingColumnsError
from fraudwatch.simulate import SCENARIOS, scenario_stats


def test_counts_add_up(fraud_frame: pl.DataFrame) -> None:
    """Check that per-scenario counts add up to the frame's rows and fraudulent rows."""
    stats = scenario_stats(fraud_frame)
    assert stats["transactions"].sum() == fraud_frame.height
    assert stats["fraud_transactions"].sum() == fraud_frame["is_fraud"].sum()
    assert stats["share_of_transactions"].sum() == pytest.approx(1.0)
    assert stats["share_of_fraud"].sum() == pytest.approx(1.0)


def test_legit_first_then_by_fraud_count(fraud_frame: pl.DataFrame) -> None:
    """Check that 'legit' comes first, then scenarios by decreasing fraud count."""
    stats = scenario_stats(fraud_frame)
    assert stats["fraud_scenario"][0] == "legit"
    assert stats["share_of_fraud"][0] == 0.0
    assert stats["fraud_transactions"][1:].is_sorted(descending=True)


def test_cards_counted_once(fraud_frame: pl.DataFrame) -> None:
    """Check that 'cards' counts the distinct cards of each scenario."""
    stats = scenario_stats(fraud_frame)
    row = stats.filter(pl.col("fraud_scenario") == "velocity_attack")
    expected = fraud_frame.filter(pl.col("fraud_scenario") == "velocity_attack")["card_id"]
    assert row["cards"].item() == expected.n_unique()


def test_missing_columns_are_named() -> None:
    """Check that a frame without labels is rejected, naming the missing columns."""
    df = pl.DataFrame({"card_id": ["a"], "amount": [1.0]})
    with pytest.raises(MissingColumnsError, match="is_fraud, fraud_scenario"):
        scenario_stats(df)


def test_empty_frame_gives_empty_stats() -> None:
    """Check that an empty frame gives no rows rather than an error."""
    df = pl.DataFrame(
        schema={"card_id": pl.String, "is_fraud": pl.Int8, "fraud_scenario": pl.String}
    )
    assert scenario_stats(df).height == 0


@settings(max_examples=40, deadline=None)
@given(
    labels=st.lists(st.sampled_from(["legit", *SCENARIOS]), min_size=1, max_size=60),
)
def test_shares_match_label_counts(labels: list[str]) -> None:
    """Check that each scenario's share of fraud equals its count over all fraud rows."""
    df = pl.DataFrame(
        {
            "card_id": [f"c{i % 7}" for i in range(len(labels))],
            "is_fraud": [int(x != "legit") for x in labels],
            "fraud_scenario": labels,
        }
    )
    stats = scenario_stats(df)
    n_fraud = sum(x != "legit" for x in labels)
    for row in stats.iter_rows(named=True):
        count = labels.count(row["fraud_scenario"])
        assert row["transactions"] == count
        if row["fraud_scenario"] != "legit":
            assert row["share_of_fraud"] == pytest.approx(count / n_fraud)
