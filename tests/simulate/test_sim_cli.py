"""Tests of the ``fraudwatch simulate`` command."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from fraudwatch.cli import build_app
from fraudwatch.schema import canonical_dtypes
from fraudwatch.simulate import SimulationConfig, simulate

SMALL = ["--customers", "60", "--days", "5", "--seed", "3", "--fraud-rate", "0.05"]


@pytest.fixture
def runner() -> CliRunner:
    """A Typer test runner."""
    return CliRunner()


def test_writes_parquet_equal_to_library(runner: CliRunner, tmp_path: Path) -> None:
    """Check that the command writes exactly what simulate() returns for the same parameters."""
    out = tmp_path / "tx.parquet"
    result = runner.invoke(build_app(), ["simulate", *SMALL, "--out", str(out)])
    assert result.exit_code == 0, result.output
    expected = simulate(SimulationConfig(customers=60, days=5, seed=3, fraud_rate=0.05))
    assert pl.read_parquet(out).equals(expected)
    assert f"wrote {expected.height:,} transactions" in result.stdout


def test_csv_timestamps_are_iso_utc(runner: CliRunner, tmp_path: Path) -> None:
    """Check that CSV output has ISO-8601 timestamps ending in Z and MCCs with 4 digits."""
    out = tmp_path / "tx.csv"
    result = runner.invoke(build_app(), ["simulate", *SMALL, "--out", str(out)])
    assert result.exit_code == 0, result.output
    df = pl.read_csv(out, infer_schema=False)
    assert df.columns == list(canonical_dtypes())
    assert df["timestamp"].str.contains(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$").all()
    assert df["merchant_category"].str.contains(r"^\d{4}$").all()


def test_format_option_overrides_suffix(runner: CliRunner, tmp_path: Path) -> None:
    """Check that --format jsonl writes JSON Lines whatever the file name."""
    out = tmp_path / "tx.data"
    result = runner.invoke(
        build_app(), ["simulate", *SMALL, "--out", str(out), "--format", "jsonl"]
    )
    assert result.exit_code == 0, result.output
    first = json.loads(out.read_text().splitlines()[0])
    assert first["timestamp"].endswith("Z")
    assert first["fraud_scenario"] == "legit" or first["is_fraud"] == 1


def test_stats_table_lists_scenarios(runner: CliRunner, tmp_path: Path) -> None:
    """Check that --stats prints every scenario present and the totals."""
    out = tmp_path / "tx.parquet"
    args = ["simulate", "--customers", "300", "--days", "20", "--seed", "1"]
    result = runner.invoke(
        build_app(), [*args, "--fraud-rate", "0.05", "--out", str(out), "--stats"]
    )
    assert result.exit_code == 0, result.output
    df = pl.read_parquet(out)
    for scenario in df["fraud_scenario"].unique():
        assert scenario in result.stdout
    assert "total" in result.stdout
    assert f"{df.height:,}" in result.stdout
    assert "fraud rate" in result.stdout


def test_share_option_restricts_the_mix(runner: CliRunner, tmp_path: Path) -> None:
    """Check that --share gives weight only to the scenarios named."""
    out = tmp_path / "tx.parquet"
    args = ["simulate", "--customers", "300", "--days", "20", "--fraud-rate", "0.05"]
    shares = ["--share", "card_testing=1", "--share", "account_takeover=1"]
    result = runner.invoke(build_app(), [*args, *shares, "--out", str(out)])
    assert result.exit_code == 0, result.output
    fraud = pl.read_parquet(out).filter(pl.col("is_fraud") == 1)
    assert set(fraud["fraud_scenario"].unique()) == {"card_testing", "account_takeover"}


def test_seed_defaults_to_settings(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Check that without --seed the command uses the `seed` setting."""
    monkeypatch.setenv("FRAUDWATCH_SEED", "77")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "tx.parquet"
    args = ["simulate", "--customers", "40", "--days", "3", "--out", str(out)]
    result = runner.invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    expected = simulate(SimulationConfig(customers=40, days=3, seed=77))
    assert pl.read_parquet(out).equals(expected)


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (["--customers", "0"], r"--customers: .*greater than or equal to 1"),
        (["--days", "-3"], r"--days: .*greater than or equal to 1"),
        (["--fraud-rate", "0.9"], r"--fraud-rate: .*less than or equal to 0.5"),
        (["--start", "someday"], r"--start: .*not an ISO date"),
        (["--share", "phishing=1"], r"--share: unknown scenario.*phishing"),
        (["--share", "card_testing"], r"--share expects SCENARIO=WEIGHT"),
        (["--format", "xml"], r"--format must be one of csv, jsonl, parquet"),
    ],
)
def test_bad_parameter_exits_2_naming_it(
    runner: CliRunner, tmp_path: Path, args: list[str], pattern: str
) -> None:
    """Check that an invalid parameter exits with code 2 and a message naming it."""
    out = tmp_path / "tx.csv"
    result = runner.invoke(build_app(), ["simulate", *args, "--out", str(out)])
    assert result.exit_code == 2
    assert re.search(pattern, " ".join(result.stderr.split()))
    assert not out.exists()


def test_unknown_suffix_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    """Check that an output file of unknown type without --format exits 2 explaining the fix."""
    result = runner.invoke(build_app(), ["simulate", *SMALL, "--out", str(tmp_path / "tx.txt")])
    assert result.exit_code == 2
    assert "--format" in result.stderr


def test_help_shows_an_example(runner: CliRunner) -> None:
    """Check that --help documents the command with an example."""
    result = runner.invoke(build_app(), ["simulate", "--help"])
    assert result.exit_code == 0
    assert "fraudwatch simulate --customers" in result.stdout
