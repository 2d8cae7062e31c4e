"""The explainer option (path or TreeSHAP) through the scorer, the batch path and the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from fraudwatch.cli import build_app
from fraudwatch.errors import ConfigError
from fraudwatch.features import MemoryStateStore
from fraudwatch.io import write_frame
from fraudwatch.registry import Bundle
from fraudwatch.scoring import Scorer, load_scorer, score_frame


@pytest.fixture(scope="module")
def split(sim_data: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(history, the last 600 transactions) of the simulated data."""
    return sim_data.head(sim_data.height - 600), sim_data.tail(600)


@pytest.mark.parametrize("explainer", ["path", "shap"])
def test_online_reasons_equal_batch_reasons(
    small_bundle: Bundle, split: tuple[pl.DataFrame, pl.DataFrame], explainer: str
) -> None:
    """Check that one-at-a-time reasons equal batch reasons, values and contributions too."""
    history, data = split
    batch = score_frame(
        small_bundle,
        data,
        history=history,
        explain="all",
        explainer=explainer,  # type: ignore[arg-type]
    ).scores
    scorer = Scorer(small_bundle, MemoryStateStore(), explain="all", explainer=explainer)  # type: ignore[arg-type]
    for tx in history.to_dicts():
        scorer.features_one(tx)
    online = [scorer.score_one(tx) for tx in data.to_dicts()]
    expected = [json.loads(r) for r in batch["reasons"].to_list()]
    got = [[r.to_dict() for r in res.reasons] for res in online]
    assert any(got), "some transactions should have reasons"
    for g, e in zip(got, expected, strict=True):
        assert [r["feature"] for r in g] == [r["feature"] for r in e]
        assert [r["phrase"] for r in g] == [r["phrase"] for r in e]
        np.testing.assert_allclose(
            [r["contribution"] for r in g], [r["contribution"] for r in e], rtol=1e-9, atol=1e-12
        )


def test_scorer_explains_one_transaction_on_the_single_row_path(
    small_bundle: Bundle, split: tuple[pl.DataFrame, pl.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Check that the scorer scores and explains one transaction without Booster.predict."""
    history, data = split
    scorer = Scorer(small_bundle, MemoryStateStore(), explain="all")
    for tx in history.to_dicts():
        scorer.features_one(tx)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("Booster.predict called for one transaction")

    monkeypatch.setattr(lgb.Booster, "predict", refuse)
    results = [scorer.score_one(tx) for tx in data.head(100).to_dicts()]
    assert any(r.reasons for r in results), "some transactions should have reasons"


def test_path_and_shap_agree_on_the_obvious_top_reason(
    small_bundle: Bundle, split: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    """Check that both explainers mostly name the same top reason for flagged rows."""
    history, data = split
    path = score_frame(small_bundle, data, history=history, explain="all").scores
    shap = score_frame(small_bundle, data, history=history, explain="all", explainer="shap").scores
    both = path["reason_1"].is_not_null() & shap["reason_1"].is_not_null()
    same = (path["reason_1"] == shap["reason_1"]).filter(both)
    assert same.len() > 0
    assert same.mean() > 0.5  # type: ignore[operator]


def test_unknown_explainer_refused(small_bundle: Bundle, sim_data: pl.DataFrame) -> None:
    """Check that a misspelt explainer is refused with the allowed ones, in both paths."""
    with pytest.raises(ConfigError, match=r"one of 'path', 'shap'; got 'lime'"):
        Scorer(small_bundle, MemoryStateStore(), explainer="lime")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"one of 'path', 'shap'; got 'lime'"):
        score_frame(small_bundle, sim_data.tail(5), explainer="lime")  # type: ignore[arg-type]


def test_load_scorer_passes_the_explainer(small_bundle: Bundle, tmp_path: Path) -> None:
    """Check that load_scorer hands the explainer to the scorer it builds."""
    folder = small_bundle.save(tmp_path / "bundle")
    scorer = load_scorer(str(folder), str(tmp_path / "registry"), explainer="shap")
    assert scorer.explainer == "shap"
    assert load_scorer(str(folder), str(tmp_path / "registry")).explainer == "path"


def test_batch_reports_stage_timings(
    small_bundle: Bundle, split: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    """Check that score_frame reports wall and CPU time for every stage."""
    history, data = split
    timings = score_frame(small_bundle, data, history=history).timings
    assert list(timings) == [
        "features",
        "encode",
        "model",
        "anomaly",
        "decisions",
        "reasons",
        "assemble",
    ]
    assert all(t.wall_s >= 0 and t.cpu_s >= 0 for t in timings.values())


def test_reason_columns_filled_only_for_explained_rows(
    small_bundle: Bundle, split: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    """Check that allowed rows get null phrases and '[]' while flagged rows get reasons."""
    history, data = split
    scores = score_frame(small_bundle, data, history=history).scores
    allowed = scores.filter(pl.col("decision") == "allow")
    assert allowed["reason_1"].null_count() == allowed.height
    assert set(allowed["reasons"].to_list()) == {"[]"}
    with_reasons = scores.filter(pl.col("reason_1").is_not_null())
    for phrase, text in zip(with_reasons["reason_1"], with_reasons["reasons"], strict=True):
        assert json.loads(text)[0]["phrase"] == phrase


@pytest.mark.parametrize("explainer", ["path", "shap"])
def test_cli_explainer_option(
    small_bundle: Bundle, sim_data: pl.DataFrame, tmp_path: Path, explainer: str
) -> None:
    """Check that `fraudwatch score --explainer` runs with each explainer."""
    folder = small_bundle.save(tmp_path / "bundle")
    write_frame(sim_data.tail(400), tmp_path / "tx.parquet")
    out = tmp_path / "scores.parquet"
    result = CliRunner().invoke(
        build_app(),
        ["score", "--data", str(tmp_path / "tx.parquet"), "--model", str(folder),
         "--out", str(out), "--explain", "all", "--explainer", explainer],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert pl.read_parquet(out)["reason_1"].null_count() < 400


def test_cli_unknown_explainer_exits_2(small_bundle: Bundle, tmp_path: Path) -> None:
    """Check that a misspelt --explainer is a usage error naming the allowed values."""
    folder = small_bundle.save(tmp_path / "bundle")
    (tmp_path / "tx.csv").write_text("transaction_id,timestamp,card_id,amount\n")
    result = CliRunner().invoke(
        build_app(),
        ["score", "--data", str(tmp_path / "tx.csv"), "--model", str(folder),
         "--out", str(tmp_path / "o.csv"), "--explainer", "lime"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "path or shap" in result.output
