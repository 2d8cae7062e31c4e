"""Tests of the `fraudwatch score` command."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from fraudwatch.cli import build_app
from fraudwatch.io import write_frame
from fraudwatch.registry import Bundle


@pytest.fixture(scope="module")
def bundle_dir(small_bundle: Bundle, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session bundle saved where the CLI can load it."""
    return small_bundle.save(tmp_path_factory.mktemp("cli") / "bundle")


def test_score_writes_every_row_and_companions(
    bundle_dir: Path, sim_data: pl.DataFrame, tmp_path: Path
) -> None:
    """Check that score writes one row per input row, the top-k file and the summary."""
    data = sim_data.tail(2000)
    write_frame(data, tmp_path / "tx.csv")
    write_frame(sim_data.head(sim_data.height - 2000), tmp_path / "history.parquet")
    out = tmp_path / "scores.parquet"
    result = CliRunner().invoke(
        build_app(),
        ["score", "--data", str(tmp_path / "tx.csv"), "--model", str(bundle_dir),
         "--out", str(out), "--top-k", "7", "--history", str(tmp_path / "history.parquet")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    scores = pl.read_parquet(out)
    assert scores["transaction_id"].to_list() == data["transaction_id"].to_list()
    assert set(scores["decision"].unique()) <= {"allow", "review", "decline"}
    top = pl.read_csv(tmp_path / "scores.topk.csv")
    assert top.height == 7
    assert top["score"].to_list() == sorted(top["score"].to_list(), reverse=True)
    summary = json.loads((tmp_path / "scores.summary.json").read_text())
    assert sum(summary["decisions"].values()) == data.height


def test_score_quarantines_bad_rows(
    bundle_dir: Path, sim_data: pl.DataFrame, tmp_path: Path
) -> None:
    """Check that a bad row is quarantined with its reason and the good rows are still scored."""
    data = sim_data.tail(300).with_columns(
        pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
    )
    data = data.with_columns(
        pl.when(pl.int_range(pl.len()) == 5)
        .then(pl.lit(-3.0))
        .otherwise(pl.col("amount"))
        .alias("amount")
    )
    data.write_csv(tmp_path / "tx.csv")
    out = tmp_path / "scores.csv"
    result = CliRunner().invoke(
        build_app(),
        [
            "score",
            "--data",
            str(tmp_path / "tx.csv"),
            "--model",
            str(bundle_dir),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert pl.read_csv(out).height == 299
    quarantine = pl.read_csv(tmp_path / "scores.quarantine.csv")
    assert quarantine.height == 1
    assert "amount" in quarantine["reason"][0]


def test_score_unknown_model_exits_2(tmp_path: Path) -> None:
    """Check that a missing bundle folder is a usage error that names the path."""
    (tmp_path / "tx.csv").write_text("transaction_id,timestamp,card_id,amount\n")
    result = CliRunner().invoke(
        build_app(),
        ["score", "--data", str(tmp_path / "tx.csv"), "--model", str(tmp_path / "nope"),
         "--out", str(tmp_path / "o.csv")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "nope" in result.output
