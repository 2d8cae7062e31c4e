"""Tests that every command is documented: an example in --help and a section in docs/cli.md."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from fraudwatch.cli import build_app
from fraudwatch.cli.commands import COMMANDS, GROUPS

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _all_commands() -> list[list[str]]:
    out = [[name] for name, _, _ in COMMANDS]
    for name, module, attr in GROUPS:
        group = getattr(importlib.import_module(f"fraudwatch.cli.{module}"), attr)
        out += [[name, sub] for sub in typer.main.get_command(group).commands]  # type: ignore[attr-defined]
    return out


@pytest.mark.parametrize("words", _all_commands(), ids=" ".join)
def test_help_has_an_example(words: list[str]) -> None:
    """Check that the command's --help works and shows an example."""
    result = CliRunner().invoke(build_app(), [*words, "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "Example" in result.output


@pytest.mark.parametrize("words", _all_commands(), ids=" ".join)
def test_command_has_a_section_in_docs(words: list[str]) -> None:
    """Check that docs/cli.md has a section for the command (regenerate with scripts/)."""
    text = DOC.read_text(encoding="utf-8")
    assert f"# fraudwatch {' '.join(words)}\n" in text
