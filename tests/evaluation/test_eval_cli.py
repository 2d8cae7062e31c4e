"""Tests of the evaluate, backtest and tune commands on a real (small) trained bundle."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from fraudwatch.cli import build_app
from fraudwatch.io import write_frame
from fraudwatch.registry import Registry, load_bundle
from fraudwatch.thresholds import CostModel, expected_outcomes

pytestmark = pytest.mark.slow

SPLIT = datetime(2024, 1, 19, tzinfo=UTC)
VALID_END = datetime(2024, 1, 24, tzinfo=UTC)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Simulated data split in train / validation / test files and a bundle trained on train."""
    from fraudwatch.simulate import SimulationConfig, simulate
    from fraudwatch.training import train_bundle

    root = tmp_path_factory.mktemp("cli")
    df = simulate(SimulationConfig(customers=250, days=28, seed=5, fraud_rate=0.03))
    ts = pl.col("timestamp")
    train = df.filter(ts < SPLIT)
    write_frame(df, root / "all.parquet")
    write_frame(df.filter((ts >= SPLIT) & (ts < VALID_END)), root / "valid.parquet")
    write_frame(df.filter(ts >= VALID_END), root / "test.parquet")
    write_frame(train, root / "train.parquet")
    bundle = train_bundle(
        train,
        created_at=SPLIT,
        model="lightgbm",
        anomaly=False,
        num_threads=1,
        model_params={"n_estimators": 60},
    )
    bundle.save(root / "bundle")
    return root


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(), list(args))
    return result.exit_code, result.output


def scored(root: Path, bundle_dir: Path, data: str) -> pl.DataFrame:
    from fraudwatch.cli.evaluate import score_transactions

    return score_transactions(load_bundle(bundle_dir), pl.read_parquet(root / data))


def test_evaluate_writes_json_and_html(workdir: Path) -> None:
    """Check that evaluate writes a strict JSON report and an HTML page for the bundle."""
    out = workdir / "eval"
    code, output = run(
        "evaluate",
        "--model",
        str(workdir / "bundle"),
        "--data",
        str(workdir / "test.parquet"),
        "--history",
        str(workdir / "valid.parquet"),
        "--out",
        str(out),
        "--k",
        "20",
    )
    assert code == 0, output
    report = json.loads((out / "evaluation.json").read_text())
    assert report["params"]["k"] == 20
    assert report["thresholds_source"] == "given"
    assert report["meta"]["model"].startswith(load_bundle(workdir / "bundle").version)
    assert report["metrics"]["roc_auc"] > 0.7  # a trained model beats chance on this data
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert "Card precision@k (k=20)" in output


def test_evaluate_missing_bundle_exits_2(workdir: Path) -> None:
    """Check that a model folder that does not exist is a usage error naming it."""
    code, output = run(
        "evaluate", "--model", str(workdir / "nope"), "--data", str(workdir / "test.parquet")
    )
    assert code == 2
    assert "no model bundle" in output


def test_evaluate_unlabelled_data_exits_2(workdir: Path) -> None:
    """Check that evaluating a file without labels says labels are needed."""
    path = workdir / "unlabelled.parquet"
    write_frame(pl.read_parquet(workdir / "test.parquet").drop("is_fraud"), path)
    code, output = run("evaluate", "--model", str(workdir / "bundle"), "--data", str(path))
    assert code == 2
    assert "is_fraud" in output


def test_tune_cost_rewrites_bundle_and_lowers_cost(workdir: Path, tmp_path: Path) -> None:
    """Check that tune saves cost thresholds that verify and cost less than the defaults."""
    import shutil

    bundle_dir = tmp_path / "bundle"
    shutil.copytree(workdir / "bundle", bundle_dir)
    before = load_bundle(bundle_dir).thresholds
    assert before is not None
    code, output = run(
        "tune",
        "--model",
        str(bundle_dir),
        "--data",
        str(workdir / "valid.parquet"),
        "--objective",
        "cost",
        "--review-cost",
        "3",
    )
    assert code == 0, output
    after = load_bundle(bundle_dir).thresholds  # hashes verified on load
    assert after is not None
    assert after.objective == "cost"
    assert after.params["review_cost"] == 3.0
    frame = scored(workdir, bundle_dir, "valid.parquet")
    cm = CostModel(review_cost=3.0)
    old_cost = expected_outcomes(frame, before.review, before.decline, cost_model=cm)["cost"]
    new_cost = expected_outcomes(frame, after.review, after.decline, cost_model=cm)["cost"]
    assert new_cost is not None
    assert old_cost is not None
    assert new_cost <= old_cost
    assert after.expected["cost"] == pytest.approx(new_cost)


def test_tune_dry_run_leaves_bundle_unchanged(workdir: Path) -> None:
    """Check that --dry-run prints thresholds without touching the bundle."""
    manifest = (workdir / "bundle" / "manifest.json").read_bytes()
    code, output = run(
        "tune",
        "--model",
        str(workdir / "bundle"),
        "--data",
        str(workdir / "valid.parquet"),
        "--objective",
        "alert-budget",
        "--max-reviews-per-day",
        "5",
        "--dry-run",
    )
    assert code == 0, output
    assert "Dry run" in output
    assert (workdir / "bundle" / "manifest.json").read_bytes() == manifest


def test_tune_registry_version_registers_new_version(
    workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Check that tuning a registry model registers a new version and keeps the old one."""
    registry = Registry(tmp_path / "registry")
    version = registry.register(load_bundle(workdir / "bundle"))
    registry.promote(version, "champion", at=SPLIT)
    monkeypatch.setenv("FRAUDWATCH_REGISTRY", str(tmp_path / "registry"))
    code, output = run(
        "tune",
        "--model",
        "champion",
        "--data",
        str(workdir / "valid.parquet"),
        "--objective",
        "precision",
        "--target-precision",
        "0.8",
    )
    assert code == 0, output
    new_versions = [v for v in registry.versions() if v != version]
    assert len(new_versions) == 1
    tuned = registry.get(new_versions[0]).thresholds
    assert tuned is not None
    assert tuned.objective == "precision"
    assert registry.get(version).thresholds.objective == "default"  # type: ignore[union-attr]


def test_tune_unknown_objective_exits_2(workdir: Path) -> None:
    """Check that an unknown objective is a usage error listing the allowed ones."""
    code, output = run(
        "tune",
        "--model",
        str(workdir / "bundle"),
        "--data",
        str(workdir / "valid.parquet"),
        "--objective",
        "profit",
    )
    assert code == 2
    assert "'alert-budget'" in output


def test_backtest_reports_mean_and_std(workdir: Path) -> None:
    """Check that backtest trains each fold and writes per-fold metrics and their mean."""
    out = workdir / "bt"
    code, output = run(
        "backtest",
        "--data",
        str(workdir / "all.parquet"),
        "--folds",
        "2",
        "--train-days",
        "6",
        "--delay-days",
        "2",
        "--test-days",
        "3",
        "--model",
        "logreg",
        "--k",
        "10",
        "--out",
        str(out),
    )
    assert code == 0, output
    result = json.loads((out / "backtest.json").read_text())
    assert [f["index"] for f in result["folds"]] == [0, 1]
    assert result["folds"][0]["test"]["end"] == "2024-01-29"  # fold 0 ends with the data
    aucs = [f["metrics"]["roc_auc"] for f in result["folds"]]
    summary = {row["metric"]: row for row in result["summary"]}
    assert summary["roc_auc"]["mean"] == pytest.approx(sum(aucs) / 2)
    assert "±" in output


def test_backtest_too_short_data_exits_2(workdir: Path) -> None:
    """Check that folds the data cannot cover are a usage error with the days needed."""
    code, output = run("backtest", "--data", str(workdir / "test.parquet"), "--folds", "8")
    assert code == 2
    assert "use fewer --folds" in output


def test_tune_bad_parameter_names_the_flag(workdir: Path) -> None:
    """Check that an out-of-range option is reported with its command-line flag."""
    code, output = run(
        "tune",
        "--model",
        str(workdir / "bundle"),
        "--data",
        str(workdir / "valid.parquet"),
        "--objective",
        "precision",
        "--target-precision",
        "1.5",
        "--dry-run",
    )
    assert code == 2
    assert "--target-precision must be a number in (0, 1]" in output
