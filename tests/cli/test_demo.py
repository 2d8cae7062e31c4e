"""Tests of `fraudwatch demo`, the whole loop on simulated data."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from fraudwatch.cli import build_app
from fraudwatch.registry import Registry


def test_demo_runs_the_whole_loop(tmp_path: Path) -> None:
    """Check that the demo trains, registers a champion, scores, reports and says how to serve."""
    work = tmp_path / "demo"
    result = CliRunner().invoke(
        build_app(),
        ["--log-level", "WARNING", "demo", "--workdir", str(work), "--customers", "700",
         "--days", "30", "--seed", "3"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    champion = Registry(str(work / "models")).get("champion")
    assert champion.thresholds is not None
    assert champion.thresholds.objective == "cost"
    scores = pl.read_parquet(work / "scores.parquet")
    assert set(scores["decision"].unique()) <= {"allow", "review", "decline"}
    assert scores["model_version"].unique().to_list() == [champion.version]
    html = (work / "report" / "report.html").read_text()
    assert "<html" in html.lower()
    assert "ten most suspicious" in result.output
    assert "curl" in result.output
    assert "fraudwatch serve --model champion" in result.output
