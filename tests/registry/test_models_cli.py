"""``fraudwatch models list|show|promote|rollback`` through the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fraudwatch.cli import build_app
from fraudwatch.registry import Registry


def _run(*args: str) -> Any:
    return CliRunner().invoke(build_app(), list(args), catch_exceptions=False)


@pytest.fixture
def reg(tmp_path: Path, make_bundle: Any) -> tuple[Path, list[str]]:
    """A registry folder with two versions."""
    root = tmp_path / "registry"
    registry = Registry(root)
    versions = [registry.register(make_bundle(seed=s)) for s in (0, 1)]
    return root, versions


def test_list_shows_versions_and_aliases(reg: tuple[Path, list[str]]) -> None:
    """Check that list prints every version and which one is champion."""
    root, versions = reg
    assert _run("models", "promote", versions[1], "--registry", str(root)).exit_code == 0
    result = _run("models", "list", "--registry", str(root))
    assert result.exit_code == 0
    assert all(v in result.output for v in versions)
    assert "champion" in result.output


def test_list_empty_registry_gives_hint(tmp_path: Path) -> None:
    """Check that listing an empty registry says how to add a model."""
    result = _run("models", "list", "--registry", str(tmp_path))
    assert result.exit_code == 0
    assert "no model registered" in result.output


def test_registry_defaults_to_setting(reg: tuple[Path, list[str]], monkeypatch: Any) -> None:
    """Check that without --registry the registry setting is used."""
    root, versions = reg
    monkeypatch.setenv("FRAUDWATCH_REGISTRY", str(root))
    result = _run("models", "list")
    assert versions[0] in result.output


def test_show_verifies_and_prints_manifest(reg: tuple[Path, list[str]]) -> None:
    """Check that show prints the verified manifest fields, and --json the whole manifest."""
    root, versions = reg
    result = _run("models", "show", versions[0], "--registry", str(root))
    assert result.exit_code == 0
    assert "verified" in result.output
    assert "feature set hash" in result.output
    as_json = _run("models", "show", versions[0], "--registry", str(root), "--json")
    assert json.loads(as_json.stdout)["version"] == versions[0]


def test_show_tampered_exits_2_naming_file(reg: tuple[Path, list[str]]) -> None:
    """Check that showing a tampered bundle exits 2 and names the changed file."""
    root, versions = reg
    path = root / "versions" / versions[0] / "anomaly.npz"
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    result = _run("models", "show", versions[0], "--registry", str(root))
    assert result.exit_code == 2
    assert "anomaly.npz" in result.output


def test_promote_then_rollback(reg: tuple[Path, list[str]]) -> None:
    """Check that rollback puts the champion back on the previous version."""
    root, (v0, v1) = reg
    _run("models", "promote", v0, "--registry", str(root))
    _run("models", "promote", v1, "--registry", str(root))
    result = _run("models", "rollback", "--registry", str(root))
    assert result.exit_code == 0
    assert f"{v1} -> {v0}" in result.output
    assert Registry(root).resolve("champion") == v0


def test_promote_unknown_version_exits_2(reg: tuple[Path, list[str]]) -> None:
    """Check that promoting a version that does not exist exits 2."""
    root, _ = reg
    result = _run("models", "promote", "nope", "--registry", str(root))
    assert result.exit_code == 2
    assert "no model version or alias 'nope'" in result.output


def test_promote_unknown_alias_exits_2(reg: tuple[Path, list[str]]) -> None:
    """Check that an unknown --alias exits 2 naming the allowed aliases."""
    root, (v0, _) = reg
    result = _run("models", "promote", v0, "--alias", "prod", "--registry", str(root))
    assert result.exit_code == 2
    assert "champion, challenger" in result.output


def test_rollback_without_history_exits_2(reg: tuple[Path, list[str]]) -> None:
    """Check that rolling back a champion with no earlier version exits 2."""
    root, (v0, _) = reg
    _run("models", "promote", v0, "--registry", str(root))
    result = _run("models", "rollback", "--registry", str(root))
    assert result.exit_code == 2
    assert "no earlier version" in result.output
