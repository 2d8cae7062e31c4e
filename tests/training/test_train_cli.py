"""``fraudwatch train`` through the command line."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from fraudwatch.cli import build_app
from fraudwatch.io import write_frame
from fraudwatch.registry import Registry, load_bundle
from fraudwatch.simulate import SimulationConfig, simulate


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 days of simulated transactions (3 % fraud) as Parquet."""
    df = simulate(SimulationConfig(customers=150, days=30, seed=4, fraud_rate=0.03))
    return write_frame(df, tmp_path_factory.mktemp("cli") / "tx.parquet")


def _run(args: list[str]) -> object:
    return CliRunner().invoke(build_app(), args, catch_exceptions=False)


@pytest.mark.slow
def test_train_writes_bundle_and_prints_summary(small_data: Path, tmp_path: Path) -> None:
    """Check that train exits 0, writes a loadable bundle and prints split and metrics."""
    out = tmp_path / "bundle"
    result = _run(["train", "--data", str(small_data), "--out", str(out), "--threads", "1"])
    assert result.exit_code == 0, result.output
    bundle = load_bundle(out)
    assert bundle.model_type == "lightgbm"
    for text in ("split", "validation", "average precision", "ROC AUC", str(out), bundle.version):
        assert text in result.output
    assert "quarantine" not in " ".join(p.name for p in out.iterdir())


@pytest.mark.slow
def test_train_promote_registers_champion(small_data: Path, tmp_path: Path) -> None:
    """Check that --promote registers the bundle and points champion at it."""
    reg = tmp_path / "registry"
    result = _run(
        [
            "train",
            "--data",
            str(small_data),
            "--out",
            str(tmp_path / "b"),
            "--model",
            "logreg",
            "--registry",
            str(reg),
            "--promote",
            "--label-delay-days",
            "3",
            "--seed",
            "9",
        ]
    )
    assert result.exit_code == 0, result.output
    registry = Registry(reg)
    champion = registry.get("champion")
    assert champion.model_type == "logreg"
    assert champion.training["label_delay_days"] == 3.0
    assert champion.training["seed"] == 9
    assert "champion: (none) ->" in result.output


def test_unknown_model_exits_2_naming_allowed(small_data: Path, tmp_path: Path) -> None:
    """Check that an unknown --model exits 2 and lists the allowed model names."""
    result = _run(["train", "--data", str(small_data), "--out", str(tmp_path / "b"), "-m", "svm"])
    assert result.exit_code == 2
    assert "unknown model type 'svm'" in result.output
    assert "lightgbm, logreg, xgboost" in result.output


def test_non_empty_out_exits_2(small_data: Path, tmp_path: Path) -> None:
    """Check that an --out folder that already holds files is refused before training."""
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x").write_text("x")
    result = _run(["train", "--data", str(small_data), "--out", str(tmp_path / "b")])
    assert result.exit_code == 2
    assert "not empty" in result.output


def test_missing_data_file_exits_2(tmp_path: Path) -> None:
    """Check that a missing --data file exits 2."""
    result = _run(["train", "--data", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "b")])
    assert result.exit_code == 2


def test_unlabelled_data_exits_2(small_data: Path, tmp_path: Path) -> None:
    """Check that data without labels exits 2 saying labels are needed."""
    path = write_frame(pl.read_parquet(small_data).drop("is_fraud"), tmp_path / "u.parquet")
    result = _run(["train", "--data", str(path), "--out", str(tmp_path / "b")])
    assert result.exit_code == 2
    assert "is_fraud" in result.output


def test_negative_label_delay_exits_2(small_data: Path, tmp_path: Path) -> None:
    """Check that a negative --label-delay-days exits 2."""
    result = _run(
        [
            "train",
            "--data",
            str(small_data),
            "--out",
            str(tmp_path / "b"),
            "--label-delay-days",
            "-1",
        ]
    )
    assert result.exit_code == 2
    assert "--label-delay-days" in result.output


def test_help_has_an_example() -> None:
    """Check that train --help shows an example command."""
    result = _run(["train", "--help"])
    assert result.exit_code == 0
    assert "Example: fraudwatch train" in result.output
