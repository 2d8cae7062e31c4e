"""`fraudwatch rules check` and `fraudwatch rules backtest` end to end (exit codes, output)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from fraudwatch.cli import build_app
from fraudwatch.simulate import SimulationConfig, simulate

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rules.yaml"


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    """A CLI runner."""
    return CliRunner()


@pytest.fixture(scope="module")
def data_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small simulated, labelled transaction file (Parquet)."""
    df = simulate(SimulationConfig(customers=150, days=21, seed=3, fraud_rate=0.03))
    path = tmp_path_factory.mktemp("data") / "tx.parquet"
    df.write_parquet(path)
    return path


def _invoke(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(build_app(), list(args), env={"COLUMNS": "250"})
    return result.exit_code, result.stdout, result.stderr


def test_check_prints_rules_in_decision_order(runner: CliRunner) -> None:
    """Check that `rules check` accepts the example and lists its checks in decision order."""
    code, out, _ = _invoke(runner, "rules", "check", str(EXAMPLE))
    assert code == 0
    assert out.index("denylist.merchants") < out.index("card_testing") < out.index("large_amount")
    assert "OK" in out


def test_check_bad_rule_exits_2_naming_rule(runner: CliRunner, tmp_path: Path) -> None:
    """Check that a misspelt feature exits 2 and names the rule, position and suggestion."""
    path = tmp_path / "r.yaml"
    path.write_text(
        "rules:\n  - name: burst\n    condition: tx_count_card_1 > 5\n    action: review\n"
    )
    code, _, err = _invoke(runner, "rules", "check", str(path))
    assert code == 2
    assert "rule 'burst', position 0" in err
    assert "did you mean 'tx_count_card_1h'" in err


def test_check_extra_field_option(runner: CliRunner, tmp_path: Path) -> None:
    """Check that --field declares an extra numeric field a rule may read."""
    path = tmp_path / "r.yaml"
    path.write_text("rules:\n  - {name: v, condition: V14 < -5, action: review}\n")
    assert _invoke(runner, "rules", "check", str(path))[0] == 2
    assert _invoke(runner, "rules", "check", str(path), "--field", "V14")[0] == 0
    assert _invoke(runner, "rules", "check", str(path), "--any-field")[0] == 0


def test_check_missing_file_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    """Check that a missing rules file is a usage error, not a crash."""
    code, _, err = _invoke(runner, "rules", "check", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "does not exist" in err


def test_backtest_counts_match_the_data(runner: CliRunner, data_file: Path, tmp_path: Path) -> None:
    """Check that the backtest table's hits for an amount rule equal a direct count."""
    out_file = tmp_path / "bt.csv"
    code, out, _ = _invoke(
        runner, "rules", "backtest", "--rules", str(EXAMPLE), "--data", str(data_file),
        "--out", str(out_file),
    )  # fmt: skip
    assert code == 0, out
    assert "card_testing" in out
    table = pl.read_csv(out_file)
    data = pl.read_parquet(data_file)
    large = table.filter(pl.col("rule") == "large_amount").row(0, named=True)
    assert large["hits"] == data.filter(pl.col("amount") > 2500).height
    assert table["precision"].drop_nulls().is_between(0, 1).all()
    assert table["model_overlap"].null_count() == table.height


def test_backtest_rule_on_uncomputable_feature_exits_2(
    runner: CliRunner, data_file: Path, tmp_path: Path
) -> None:
    """Check that a rule reading a feature the data cannot give is named, with the reason."""
    no_device = tmp_path / "tx.parquet"
    pl.read_parquet(data_file).drop("device_id").write_parquet(no_device)
    rules = tmp_path / "r.yaml"
    rules.write_text(
        "rules:\n  - {name: newdev, condition: new_device_card == 1, action: review}\n"
    )
    code, _, err = _invoke(
        runner, "rules", "backtest", "--rules", str(rules), "--data", str(no_device)
    )
    assert code == 2
    assert "rule 'newdev'" in err
    assert "new_device_card" in err


@pytest.mark.slow
def test_backtest_with_model_reports_overlap(
    runner: CliRunner, data_file: Path, tmp_path: Path
) -> None:
    """Check that --model adds the overlap with the model's flags, consistent with hits."""
    from fraudwatch.training import train_bundle

    data = pl.read_parquet(data_file)
    bundle = train_bundle(
        data,
        created_at=datetime(2024, 2, 1, tzinfo=UTC),
        model="logreg",
        anomaly=False,
        num_threads=1,
        seed=1,
    )
    folder = bundle.save(tmp_path / "bundle")
    out_file = tmp_path / "bt.csv"
    code, out, _ = _invoke(
        runner, "rules", "backtest", "--rules", str(EXAMPLE), "--data", str(data_file),
        "--model", str(folder), "--out", str(out_file),
    )  # fmt: skip
    assert code == 0, out
    assert "that the model misses" in out
    table = pl.read_csv(out_file)
    assert table["model_overlap"].null_count() == 0
    assert (table["model_overlap"] + table["missed_by_model"] == table["hits"]).all()
    assert (table["frauds_missed_by_model"] <= table["frauds"]).all()
