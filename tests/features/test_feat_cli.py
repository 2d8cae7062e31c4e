"""Tests of ``fraudwatch features``."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from feat_streams import mismatches, random_stream
from typer.testing import CliRunner

from fraudwatch.cli import build_app
from fraudwatch.features import (
    Feature,
    FeatureSet,
    OnlineExecutor,
    StateSnapshot,
    compute_batch,
    default_feature_set,
)

runner = CliRunner()


def test_list_prints_every_feature() -> None:
    """Check that --list prints each feature name with its definition."""
    result = runner.invoke(build_app(), ["features", "--list", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    fs = default_feature_set()
    assert [f["name"] for f in payload["features"]] == fs.names
    assert payload["hash"] == fs.hash
    assert all(f["definition"] for f in payload["features"])


def test_list_as_table_names_the_hash() -> None:
    """Check that the table form ends with the set's hash."""
    result = runner.invoke(build_app(), ["features", "--list"])
    assert result.exit_code == 0, result.output
    assert default_feature_set().hash in result.output


def test_writes_the_feature_table(tmp_path: Path) -> None:
    """Check that --data/--out writes transaction_id and every feature, equal to the API."""
    data = random_stream(4, 200)
    src = tmp_path / "tx.parquet"
    data.write_parquet(src)
    out = tmp_path / "features.parquet"
    result = runner.invoke(build_app(), ["features", "--data", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pl.read_parquet(out)
    fs = default_feature_set()
    assert table.columns == ["transaction_id", *fs.names]
    assert mismatches(fs, compute_batch(fs, data), table) == []


def test_history_warms_the_table(tmp_path: Path) -> None:
    """Check that --history rows warm the state and are not written."""
    data = random_stream(6, 300).sort("timestamp")
    (tmp_path / "h.parquet").write_bytes(b"")
    data.head(200).write_parquet(tmp_path / "h.parquet")
    data.tail(100).write_parquet(tmp_path / "d.parquet")
    out = tmp_path / "f.csv"
    args = ["features", "--data", str(tmp_path / "d.parquet"), "--history"]
    args += [str(tmp_path / "h.parquet"), "--out", str(out)]
    result = runner.invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    table = pl.read_csv(out)
    assert table.height == 100
    warm = compute_batch(default_feature_set(), data.tail(100), history=data.head(200))
    assert table["tx_count_card_30d"].to_list() == warm["tx_count_card_30d"].to_list()


def test_missing_inputs_leave_features_out(tmp_path: Path) -> None:
    """Check that features whose columns are absent or empty are reported and left out."""
    data = random_stream(2, 100).with_columns(pl.lit(None, dtype=pl.String).alias("device_id"))
    data = data.drop("latitude", "longitude")
    data.write_parquet(tmp_path / "tx.parquet")
    out = tmp_path / "f.parquet"
    args = ["features", "--data", str(tmp_path / "tx.parquet"), "--out", str(out)]
    result = runner.invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    assert "left out new_device_card: needs column device_id" in result.output
    columns = pl.read_parquet(out).columns
    assert "new_device_card" not in columns
    assert "km_from_prev_card" not in columns
    assert "tx_count_card_1h" in columns


def test_out_is_required(tmp_path: Path) -> None:
    """Check that --data without --out exits 2 with the fix."""
    result = runner.invoke(build_app(), ["features", "--data", str(tmp_path / "x.parquet")])
    assert result.exit_code == 2
    assert "give --data PATH and --out PATH" in result.output


def test_unreadable_data_exits_2(tmp_path: Path) -> None:
    """Check that a missing input file is a user error (exit 2)."""
    args = ["features", "--data", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o.csv")]
    result = runner.invoke(build_app(), args)
    assert result.exit_code == 2


def test_snapshot_from_history_starts_warm(tmp_path: Path) -> None:
    """Check that --history with --snapshot writes a state equal to batch with that history."""
    data = random_stream(12, 400).sort("timestamp")
    data.head(300).write_parquet(tmp_path / "h.parquet")
    args = ["features", "--history", str(tmp_path / "h.parquet"), "--snapshot"]
    result = runner.invoke(build_app(), [*args, str(tmp_path / "state")])
    assert result.exit_code == 0, result.output
    fs = default_feature_set()
    ex = OnlineExecutor(fs)
    ex.load_snapshot(StateSnapshot.load(tmp_path / "state"))
    new = data.tail(100)
    assert mismatches(fs, compute_batch(fs, new, history=data.head(300)), ex.replay(new)) == []


def test_feature_set_file_is_used_as_is(tmp_path: Path) -> None:
    """Check that --feature-set computes exactly the set written in the JSON file."""
    fs = FeatureSet((Feature("count", "card", window="1h"), Feature("hour")))
    (tmp_path / "fs.json").write_text(json.dumps(fs.to_dict()))
    random_stream(13, 50).write_parquet(tmp_path / "tx.parquet")
    args = ["features", "--data", str(tmp_path / "tx.parquet"), "--out", str(tmp_path / "f.csv")]
    result = runner.invoke(build_app(), [*args, "--feature-set", str(tmp_path / "fs.json")])
    assert result.exit_code == 0, result.output
    assert pl.read_csv(tmp_path / "f.csv").columns == ["transaction_id", *fs.names]


def test_model_and_feature_set_together_are_refused(tmp_path: Path) -> None:
    """Check that --model and --feature-set cannot be combined."""
    args = ["features", "--list", "--model", "champion", "--feature-set", str(tmp_path / "x")]
    result = runner.invoke(build_app(), args)
    assert result.exit_code == 2
    assert "not both" in result.output
