"""Profiles: built-in layouts (native, handbook, ulb) and user YAML mapping files."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from fraudwatch.errors import ConfigError, MissingColumnsError
from fraudwatch.io import (
    BUILTIN_PROFILES,
    HANDBOOK_SCENARIOS,
    ULB_DEFAULT_START,
    Profile,
    builtin_profiles,
    get_profile,
    read_transactions,
    ulb_profile,
)


def _handbook_frame(n: int, seed: int = 3) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    start = datetime(2018, 4, 1)
    seconds = np.sort(rng.integers(0, 86_400 * 3, n))
    scenario = rng.integers(0, 4, n)
    return pl.DataFrame(
        {
            "TRANSACTION_ID": np.arange(n),
            "TX_DATETIME": [start + timedelta(seconds=int(s)) for s in seconds],
            "CUSTOMER_ID": rng.integers(0, 50, n),
            "TERMINAL_ID": rng.integers(0, 80, n),
            "TX_AMOUNT": rng.gamma(2.0, 30.0, n).round(2),
            "TX_TIME_SECONDS": seconds,
            "TX_TIME_DAYS": seconds // 86_400,
            "TX_FRAUD": (scenario > 0).astype(np.int64),
            "TX_FRAUD_SCENARIO": scenario,
        }
    )


def test_builtin_profiles_are_listed() -> None:
    """Check that the built-in profile names and objects agree."""
    assert BUILTIN_PROFILES == ("native", "handbook", "ulb")
    assert {name: p.name for name, p in builtin_profiles().items()} == {
        n: n for n in BUILTIN_PROFILES
    }


def test_unknown_profile_lists_the_choices() -> None:
    """Check that an unknown profile name is refused with the built-in names."""
    with pytest.raises(ConfigError, match="native, handbook, ulb"):
        get_profile("kaggle")


def test_handbook_mapping(tmp_path: Path) -> None:
    """Check that the handbook layout maps ids to strings, customers to cards, scenarios."""
    raw = _handbook_frame(200)
    path = tmp_path / "hb.parquet"
    raw.write_parquet(path)
    data = read_transactions(path, profile="handbook").data
    assert data.height == 200
    assert data["transaction_id"].to_list() == [str(i) for i in raw["TRANSACTION_ID"]]
    assert data["card_id"].to_list() == [str(i) for i in raw["CUSTOMER_ID"]]
    assert data["customer_id"].equals(data["card_id"])
    assert data["merchant_id"].to_list() == [str(i) for i in raw["TERMINAL_ID"]]
    assert data["terminal_id"].equals(data["merchant_id"])
    assert data["fraud_scenario"].to_list() == [
        HANDBOOK_SCENARIOS[str(s)] for s in raw["TX_FRAUD_SCENARIO"]
    ]
    assert data["is_fraud"].to_list() == raw["TX_FRAUD"].to_list()
    assert (
        data["timestamp"]
        .dt.replace_time_zone(None)
        .equals(raw["TX_DATETIME"].cast(pl.Datetime("us")).alias("timestamp"))
    )


def test_handbook_csv_export_reads_the_same(tmp_path: Path) -> None:
    """Check that the handbook layout read from CSV equals the Parquet read."""
    raw = _handbook_frame(50)
    raw.write_parquet(tmp_path / "hb.parquet")
    raw.write_csv(tmp_path / "hb.csv")
    from_parquet = read_transactions(tmp_path / "hb.parquet", profile="handbook").data
    from_csv = read_transactions(tmp_path / "hb.csv", profile="handbook").data
    assert from_csv.equals(from_parquet)


def test_handbook_profile_on_native_file_names_source_columns(tmp_path: Path) -> None:
    """Check that using the handbook profile on another layout names the TX_ columns needed."""
    path = tmp_path / "tx.csv"
    path.write_text("transaction_id,timestamp,card_id,amount\nt,2024-01-01,c,1\n")
    with pytest.raises(MissingColumnsError, match=r"TX_AMOUNT \(for amount\)"):
        read_transactions(path, profile="handbook")


def _write_ulb(path: Path, n: int, seed: int = 5) -> pl.DataFrame:
    """A creditcard.csv-shaped sample, written the way the original is (quoted header/Class)."""
    rng = np.random.default_rng(seed)
    time = np.sort(rng.integers(0, 172_792, n)).astype(float)
    features = rng.normal(size=(n, 28))
    amount = rng.gamma(1.5, 40.0, n).round(2)
    label = (rng.random(n) < 0.1).astype(int)
    header = ["Time", *[f"V{i}" for i in range(1, 29)], "Amount", "Class"]
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_NONNUMERIC)
        writer.writerow(header)
        for i in range(n):
            writer.writerow([time[i], *features[i].tolist(), amount[i], str(label[i])])
    return pl.DataFrame(
        {
            "Time": time,
            **{f"V{i + 1}": features[:, i] for i in range(28)},
            "Amount": amount,
            "Class": label,
        }
    )


def test_ulb_mapping(tmp_path: Path) -> None:
    """Check that ULB rows get row-number ids, origin-based times, features and labels."""
    truth = _write_ulb(tmp_path / "creditcard.csv", 40)
    result = read_transactions(tmp_path / "creditcard.csv", profile="ulb", batch_rows=16)
    data = result.data
    assert result.n_rejected == 0
    assert data["transaction_id"].to_list() == [str(i) for i in range(40)]
    expected_ts = [ULB_DEFAULT_START + timedelta(seconds=t) for t in truth["Time"]]
    assert data["timestamp"].to_list() == expected_ts
    assert np.allclose(data["V7"].to_numpy(), truth["V7"].to_numpy(), rtol=0, atol=1e-12)
    assert data["amount"].to_list() == truth["Amount"].to_list()
    assert data["is_fraud"].to_list() == truth["Class"].to_list()
    assert "card_id" not in data.columns
    assert data.columns[-28:] == [f"V{i}" for i in range(1, 29)]


def test_ulb_start_is_a_parameter(tmp_path: Path) -> None:
    """Check that ulb_profile(start=...) shifts every timestamp by the new origin."""
    _write_ulb(tmp_path / "creditcard.csv", 5)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    default = read_transactions(tmp_path / "creditcard.csv", profile="ulb").data
    moved = read_transactions(tmp_path / "creditcard.csv", profile=ulb_profile(start)).data
    shift = start - ULB_DEFAULT_START
    assert moved["timestamp"].to_list() == [t + shift for t in default["timestamp"]]


def test_ulb_bad_feature_is_rejected_not_card(tmp_path: Path) -> None:
    """Check that ULB rows are never rejected for the absent card, but are for bad features."""
    _write_ulb(tmp_path / "creditcard.csv", 3)
    text = (tmp_path / "creditcard.csv").read_text().splitlines()
    fields = text[2].split(",")
    fields[3] = '"oops"'
    text[2] = ",".join(fields)
    (tmp_path / "creditcard.csv").write_text("\n".join(text) + "\n")
    result = read_transactions(tmp_path / "creditcard.csv", profile="ulb")
    assert result.rejected.select("line", "reason").rows() == [(3, "V3: not a number")]


YAML = """
name: acme
columns:
  transaction_id: ref
  timestamp: booked
  card_id: pan
  customer_id: pan
  amount: amt
  channel: chan
timestamp:
  format: "%d/%m/%Y %H:%M:%S"
  timezone: Europe/Paris
constants:
  currency: EUR
values:
  channel: {P: pos, E: ecom, A: atm}
passthrough: [risk]
"""


def test_yaml_mapping_renames_parses_and_fills(tmp_path: Path) -> None:
    """Check that a YAML mapping renames, feeds two columns from one, maps codes, fills
    constants, parses its time format in its zone and keeps pass-through columns."""
    mapping = tmp_path / "acme.yaml"
    mapping.write_text(YAML)
    path = tmp_path / "acme.csv"
    path.write_text(
        "ref,booked,pan,amt,chan,risk\n"
        "r1,31/07/2024 14:00:00,p1,10.5,P,0.5\n"
        "r2,31/07/2024 15:00:00,p2,3,X,0.1\n"
    )
    result = read_transactions(path, profile=mapping)
    assert result.profile == "acme"
    row = result.data.row(0, named=True)
    assert row["transaction_id"] == "r1"
    assert row["card_id"] == row["customer_id"] == "p1"
    assert row["timestamp"] == datetime(2024, 7, 31, 12, tzinfo=UTC)
    assert row["channel"] == "pos"
    assert row["currency"] == "EUR"
    assert row["risk"] == 0.5
    assert result.rejected["reason"].to_list() == ["channel: unknown value"]


def test_yaml_equivalent_of_ulb_matches_builtin(tmp_path: Path) -> None:
    """Check that the ULB layout written as YAML (as in docs/schema.md) reads identically."""
    _write_ulb(tmp_path / "creditcard.csv", 12)
    mapping = tmp_path / "ulb.yaml"
    mapping.write_text(
        "columns: {timestamp: Time, amount: Amount, is_fraud: Class}\n"
        "timestamp: {unit: s, origin: '2013-09-01T00:00:00Z'}\n"
        f"passthrough: [{', '.join(f'V{i}' for i in range(1, 29))}]\n"
        "unavailable: [card_id]\n"
        "row_number_id: true\n"
    )
    builtin = read_transactions(tmp_path / "creditcard.csv", profile="ulb").data
    custom = read_transactions(tmp_path / "creditcard.csv", profile=mapping).data
    assert custom.equals(builtin)


def test_unmapped_canonical_columns_are_taken_by_name(tmp_path: Path) -> None:
    """Check that a mapping that renames one column still reads the canonical-named others."""
    mapping = tmp_path / "m.yaml"
    mapping.write_text("columns: {transaction_id: tx}\n")
    path = tmp_path / "tx.csv"
    path.write_text("tx,timestamp,card_id,amount,country\nA,2024-01-01,c,1,fr\n")
    data = read_transactions(path, profile=mapping).data
    assert data.columns == ["transaction_id", "timestamp", "card_id", "amount", "country"]
    assert data["country"].to_list() == ["FR"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("columns: [a, b\n", r"not valid YAML at line 2"),
        ("- a\n- b\n", "must be a YAML mapping"),
        ("colums: {amount: amt}\n", r"colums: unknown key"),
        ("columns: {amout: amt}\n", r"columns\.amout is not a canonical column"),
        ("columns: {amount: ''}\n", r"columns\.amount is empty"),
        ("constants: {currency: EURO}\n", r"constants .*currency: not 3 letters"),
        ("columns: {currency: cur}\nconstants: {currency: EUR}\n", "both in columns and in"),
        ("values: {channel: {yes: pos}}\n", r"values\.channel: True was read as a boolean"),
        ("timestamp: {timezone: Mars/Base}\n", "unknown time zone 'Mars/Base'"),
        ("timestamp: {zone: UTC}\n", r"timestamp\.zone: unknown key"),
        ("timestamp: {unit: hours}\n", r"timestamp\.unit"),
        ("timestamp: {origin: yesterday}\n", r"timestamp\.origin: 'yesterday'"),
        ("timestamp: {format: '%Y-%m-%d %H'}\n", "is not valid"),
        ("unavailable: [merchant_id]\n", r"unavailable\.merchant_id is not a required column"),
        ("passthrough: [amount]\n", "'amount' is a canonical column"),
    ],
)
def test_bad_yaml_is_a_config_error_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    """Check that each mistake in a mapping file is reported with the key concerned."""
    mapping = tmp_path / "bad.yaml"
    mapping.write_text(text)
    with pytest.raises(ConfigError, match=message):
        get_profile(mapping)


def test_missing_yaml_file_is_a_config_error(tmp_path: Path) -> None:
    """Check that a mapping path that does not exist is reported."""
    with pytest.raises(ConfigError, match=r"nope\.yaml does not exist"):
        get_profile(tmp_path / "nope.yaml")


def test_profile_object_is_accepted_as_is() -> None:
    """Check that get_profile returns a Profile given to it unchanged."""
    profile = Profile("mine", columns={"amount": "amt"})
    assert get_profile(profile) is profile
