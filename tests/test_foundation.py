"""Tests of the package surface, settings and CLI conventions."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import fraudwatch
from fraudwatch.cli import build_app
from fraudwatch.cli._common import command_errors
from fraudwatch.config import load_settings
from fraudwatch.errors import ConfigError, FraudwatchError, MissingColumnsError, UserError


def test_public_surface_is_pinned() -> None:
    """Check that the top-level package exports exactly the documented names."""
    assert sorted(fraudwatch.__all__) == sorted(
        [
            "BundleError",
            "ConfigError",
            "ConflictError",
            "DataValidationError",
            "FeatureError",
            "FraudwatchError",
            "InputFileError",
            "MissingColumnsError",
            "NotFoundError",
            "RuleError",
            "StateStoreError",
            "__version__",
        ]
    )


def test_errors_share_one_base() -> None:
    """Check that every user error is a FraudwatchError."""
    assert issubclass(ConfigError, UserError)
    assert issubclass(UserError, FraudwatchError)


def test_missing_columns_message_lists_found() -> None:
    """Check that a missing-column error names the missing and the found columns."""
    err = MissingColumnsError(["amount"], ["transaction_id", "timestamp"], source="x.csv")
    assert "amount" in str(err)
    assert "transaction_id, timestamp" in str(err)
    assert "x.csv" in str(err)


def test_settings_file_then_env_priority(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Check that the environment wins over the TOML file, which wins over defaults."""
    cfg = tmp_path / "fw.toml"
    cfg.write_text('label_delay_days = 3\nstate = "redis://x"\n[serving]\nport = 9100\n')
    monkeypatch.setenv("FRAUDWATCH_LABEL_DELAY_DAYS", "5")
    monkeypatch.setenv("FRAUDWATCH_SERVING__WORKERS", "2")
    s = load_settings(cfg)
    assert s.label_delay_days == 5
    assert s.state == "redis://x"
    assert s.serving.port == 9100
    assert s.serving.workers == 2


def test_settings_bad_value_names_field(tmp_path: Path) -> None:
    """Check that an invalid setting is reported with its field name."""
    cfg = tmp_path / "fw.toml"
    cfg.write_text("[serving]\nport = 0\n")
    with pytest.raises(ConfigError, match=r"serving\.port"):
        load_settings(cfg)


def test_settings_unknown_key_rejected(tmp_path: Path) -> None:
    """Check that a misspelt key in the file is an error, not silently ignored."""
    cfg = tmp_path / "fw.toml"
    cfg.write_text("label_delay = 3\n")
    with pytest.raises(ConfigError, match="label_delay"):
        load_settings(cfg)


def test_missing_config_file_is_usage_error(tmp_path: Path) -> None:
    """Check that --config with a missing file exits 2 with the path named."""
    app = build_app()
    app.command("noop")(lambda: None)
    result = CliRunner().invoke(app, ["--config", str(tmp_path / "nope.toml"), "noop"])
    assert result.exit_code == 2
    assert "nope.toml" in result.output


def _app_with(func: object) -> typer.Typer:
    app = typer.Typer()
    app.command("a")(func)  # type: ignore[arg-type]
    app.command("b")(lambda: None)
    return app


def test_user_error_exits_2_without_traceback() -> None:
    """Check that a UserError becomes exit code 2 and a one-line message."""

    @command_errors
    def boom() -> None:
        raise ConfigError("bad thing; fix it like this")

    result = CliRunner().invoke(_app_with(boom), ["a"])
    assert result.exit_code == 2
    assert "bad thing; fix it like this" in result.output
    assert "Traceback" not in result.output


def test_internal_error_exits_1_without_traceback() -> None:
    """Check that an unexpected exception becomes exit code 1 and an 'internal error' line."""

    @command_errors
    def boom() -> None:
        raise ZeroDivisionError("oops")

    result = CliRunner().invoke(_app_with(boom), ["a"])
    assert result.exit_code == 1
    assert "internal error" in result.output
    assert "Traceback" not in result.output


def test_version_flag() -> None:
    """Check that --version prints the package version."""
    result = CliRunner().invoke(build_app(), ["--version"])
    assert result.exit_code == 0
    assert fraudwatch.__version__ in result.output


def test_json_logs_one_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    """Check that JSON logging writes one parseable object per line with extra fields."""
    import json
    import logging

    from fraudwatch.logs import configure_logging

    configure_logging("INFO", "json")
    logging.getLogger("fraudwatch.test").info("scored %d", 3, extra={"model": "v1"})
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    record = json.loads(lines[-1])
    assert record["msg"] == "scored 3"
    assert record["model"] == "v1"
    assert record["level"] == "info"
