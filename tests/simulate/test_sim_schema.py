"""Tests that simulated frames follow the canonical transaction schema."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fraudwatch.io import write_frame
from fraudwatch.schema import CHANNELS, canonical_dtypes
from fraudwatch.simulate import SCENARIOS, SimulationConfig, simulate


def test_columns_and_dtypes_are_canonical(default_frame: pl.DataFrame) -> None:
    """Check that the frame has exactly the canonical columns, in order, with their dtypes."""
    assert dict(default_frame.schema) == canonical_dtypes()


def test_sorted_by_timestamp(default_frame: pl.DataFrame) -> None:
    """Check that rows are in time order."""
    assert default_frame["timestamp"].is_sorted()


def test_transaction_ids_unique(default_frame: pl.DataFrame) -> None:
    """Check that every transaction id is a distinct non-empty string."""
    ids = default_frame["transaction_id"]
    assert ids.null_count() == 0
    assert ids.n_unique() == default_frame.height


def test_timestamps_inside_period(
    fraud_config: SimulationConfig, fraud_frame: pl.DataFrame
) -> None:
    """Check that every timestamp lies in [start, start + days)."""
    ts = fraud_frame["timestamp"]
    assert ts.min() >= fraud_config.start  # type: ignore[operator]
    assert ts.max() < fraud_config.start + timedelta(days=fraud_config.days)  # type: ignore[operator]


def test_required_values_present(default_frame: pl.DataFrame) -> None:
    """Check that ids, amounts, categories, channels and places are never null."""
    cols = [
        "card_id",
        "customer_id",
        "merchant_id",
        "terminal_id",
        "merchant_category",
        "channel",
        "currency",
        "country",
        "amount",
        "is_fraud",
        "fraud_scenario",
    ]
    assert default_frame.select(pl.col(cols).null_count()).row(0) == tuple([0] * len(cols))


def test_amounts_non_negative(default_frame: pl.DataFrame) -> None:
    """Check that amounts are finite and >= 0."""
    amount = default_frame["amount"]
    assert amount.is_finite().all()
    assert amount.min() >= 0  # type: ignore[operator]


def test_channels_are_valid(default_frame: pl.DataFrame) -> None:
    """Check that channel only takes the schema's values, and all of them occur."""
    assert set(default_frame["channel"].unique()) == set(CHANNELS)


def test_mcc_are_four_digit_strings(default_frame: pl.DataFrame) -> None:
    """Check that merchant categories are 4-digit strings."""
    assert default_frame["merchant_category"].str.contains(r"^\d{4}$").all()


def test_atm_channel_is_mcc_6011(default_frame: pl.DataFrame) -> None:
    """Check that cash withdrawals use MCC 6011 and only they do."""
    atm = default_frame["channel"] == "atm"
    assert (atm == (default_frame["merchant_category"] == "6011")).all()


def test_category_channel_consistency(default_frame: pl.DataFrame) -> None:
    """Check that grocery and fuel are card-present and airlines and gambling online."""
    by = default_frame.group_by("merchant_category").agg(pl.col("channel").unique())
    channels = {r[0]: set(r[1]) for r in by.iter_rows()}
    assert channels["5411"] == {"pos"}
    assert channels["5541"] == {"pos"}
    assert channels["4511"] == {"ecom"}
    assert channels["7995"] == {"ecom"}


def test_online_rows_have_devices_not_places(default_frame: pl.DataFrame) -> None:
    """Check that card-not-present rows have no coordinates and card-present rows no device."""
    online = default_frame.filter(pl.col("channel") == "ecom")
    present = default_frame.filter(pl.col("channel") != "ecom")
    assert online["latitude"].null_count() == online.height
    assert present["device_id"].null_count() == present.height
    assert present["ip_address"].null_count() == present.height
    assert present["latitude"].null_count() == 0
    # customer-initiated online payments carry a device and an address
    assert online["device_id"].null_count() < 0.2 * online.height


def test_coordinates_in_range(default_frame: pl.DataFrame) -> None:
    """Check that latitudes lie in [-90, 90] and longitudes in [-180, 180]."""
    df = default_frame.drop_nulls("latitude")
    assert df["latitude"].abs().max() <= 90  # type: ignore[operator]
    assert df["longitude"].abs().max() <= 180  # type: ignore[operator]


def test_ip_addresses_are_dotted_quads(default_frame: pl.DataFrame) -> None:
    """Check that IP addresses are four octets between 0 and 255."""
    ips = default_frame["ip_address"].drop_nulls()
    octets = ips.str.split(".").list.eval(pl.element().cast(pl.Int64))
    assert (octets.list.len() == 4).all()
    assert octets.list.max().max() <= 255  # type: ignore[operator]


def test_currency_matches_country(default_frame: pl.DataFrame) -> None:
    """Check that every country always pays in one currency, the right one."""
    pairs = default_frame.select("country", "currency").unique()
    assert pairs["country"].n_unique() == pairs.height
    mapping = dict(pairs.iter_rows())
    assert mapping.get("GB") == "GBP"
    assert mapping.get("FR") == "EUR"
    assert mapping.get("US") == "USD"


def test_labels_consistent(fraud_frame: pl.DataFrame) -> None:
    """Check that is_fraud is 0/1 and fraud rows name an archetype, legit rows 'legit'."""
    assert set(fraud_frame["is_fraud"].unique()) == {0, 1}
    fraud = fraud_frame.filter(pl.col("is_fraud") == 1)
    legit = fraud_frame.filter(pl.col("is_fraud") == 0)
    assert set(fraud["fraud_scenario"].unique()) == set(SCENARIOS)
    assert set(legit["fraud_scenario"].unique()) == {"legit"}


def test_terminal_belongs_to_one_merchant(default_frame: pl.DataFrame) -> None:
    """Check that a terminal id always belongs to the same merchant and category."""
    per_terminal = default_frame.group_by("terminal_id").agg(
        pl.col("merchant_id").n_unique(), pl.col("merchant_category").n_unique()
    )
    assert per_terminal["merchant_id"].max() == 1
    assert per_terminal["merchant_category"].max() == 1


def test_card_belongs_to_one_customer(default_frame: pl.DataFrame) -> None:
    """Check that a card id always belongs to the same customer."""
    per_card = default_frame.group_by("card_id").agg(pl.col("customer_id").n_unique())
    assert per_card["customer_id"].max() == 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    customers=st.integers(min_value=1, max_value=40),
    days=st.integers(min_value=1, max_value=6),
    seed=st.integers(min_value=0, max_value=2**63 - 1),
    rate=st.sampled_from([0.0, 0.004, 0.1, 0.5]),
)
def test_small_configs_keep_the_schema(customers: int, days: int, seed: int, rate: float) -> None:
    """Check that tiny and extreme configurations still give a valid canonical frame."""
    cfg = SimulationConfig(customers=customers, days=days, seed=seed, fraud_rate=rate)
    df = simulate(cfg)
    assert dict(df.schema) == canonical_dtypes()
    assert df["timestamp"].is_sorted()
    assert df["transaction_id"].n_unique() == df.height
    if df.height:
        assert df["amount"].min() >= 0  # type: ignore[operator]
        assert df["timestamp"].min() >= cfg.start  # type: ignore[operator]
        assert df["timestamp"].max() < cfg.end()  # type: ignore[operator]
    if rate == 0.0:
        assert df["is_fraud"].sum() == 0


def test_zero_fraud_rate_gives_no_fraud() -> None:
    """Check that fraud_rate=0 produces only legitimate rows."""
    df = simulate(SimulationConfig(customers=200, days=10, seed=2, fraud_rate=0.0))
    assert df.height > 0
    assert df["is_fraud"].sum() == 0
    assert set(df["fraud_scenario"].unique()) == {"legit"}


def test_parquet_round_trip_keeps_schema(tmp_path: Path) -> None:
    """Check that writing the frame to Parquet and reading it back keeps every value and dtype."""
    df = simulate(SimulationConfig(customers=50, days=3, seed=4, fraud_rate=0.1))
    path = write_frame(df, tmp_path / "tx.parquet")
    assert pl.read_parquet(path).equals(df)
